#include "topic_filter.h"

namespace dfmq
{

std::vector<std::string> splitTopic(std::string_view topic)
{
    std::vector<std::string> out;
    size_t start = 0;
    while (true)
    {
        const size_t slash = topic.find('/', start);
        if (slash == std::string_view::npos)
        {
            out.emplace_back(topic.substr(start));
            return out;
        }
        out.emplace_back(topic.substr(start, slash - start));
        start = slash + 1;
    }
}

std::optional<TopicFilter> TopicFilter::parse(std::string_view text, std::string &error)
{
    if (text.empty())
    {
        error = "empty topic filter";
        return std::nullopt;
    }
    if (text.find('\0') != std::string_view::npos)
    {
        error = "topic filter contains a NUL character";
        return std::nullopt;
    }

    TopicFilter f;
    f.text_ = std::string(text);
    f.levels_ = splitTopic(text);
    for (size_t i = 0; i < f.levels_.size(); i++)
    {
        const std::string &level = f.levels_[i];
        const bool hasHash = level.find('#') != std::string::npos;
        const bool hasPlus = level.find('+') != std::string::npos;
        if (hasHash && (level.size() != 1 || i + 1 != f.levels_.size()))
        {
            error = "'#' must be a whole level and the last one in '" + f.text_ + "'";
            return std::nullopt;
        }
        if (hasPlus && level.size() != 1)
        {
            error = "'+' must be a whole level in '" + f.text_ + "'";
            return std::nullopt;
        }
    }
    return f;
}

namespace
{

// Walks the levels of a topic given either as a vector or as a string, without allocating.
template <typename NextLevel>
bool matchLevels(const std::vector<std::string> &filter, NextLevel &&next, bool dollarTopic)
{
    if (dollarTopic && !filter.empty() && (filter[0] == "+" || filter[0] == "#"))
        return false;

    std::string_view level;
    for (size_t i = 0; i < filter.size(); i++)
    {
        const std::string &want = filter[i];
        if (want == "#")
            return true; // also matches the parent level: "a/#" matches "a"
        if (!next(level))
            return false;
        if (want != "+" && want != level)
            return false;
    }
    return !next(level);
}

} // namespace

bool TopicFilter::matches(const std::vector<std::string> &subtopics) const
{
    size_t pos = 0;
    auto next = [&](std::string_view &level) {
        if (pos >= subtopics.size())
            return false;
        level = subtopics[pos++];
        return true;
    };
    const bool dollar = !subtopics.empty() && !subtopics[0].empty() && subtopics[0][0] == '$';
    return matchLevels(levels_, next, dollar);
}

bool TopicFilter::matches(std::string_view topic) const
{
    size_t pos = 0;
    bool done = false;
    auto next = [&](std::string_view &level) {
        if (done)
            return false;
        const size_t slash = topic.find('/', pos);
        if (slash == std::string_view::npos)
        {
            level = topic.substr(pos);
            done = true;
        }
        else
        {
            level = topic.substr(pos, slash - pos);
            pos = slash + 1;
        }
        return true;
    };
    const bool dollar = !topic.empty() && topic[0] == '$';
    return matchLevels(levels_, next, dollar);
}

TopicFilterSet TopicFilterSet::everything()
{
    TopicFilterSet s;
    s.all_ = true;
    return s;
}

TopicFilterSet TopicFilterSet::nothing()
{
    return TopicFilterSet();
}

bool TopicFilterSet::matches(const std::vector<std::string> &subtopics) const
{
    if (all_)
        return true;
    for (const TopicFilter &f : filters_)
        if (f.matches(subtopics))
            return true;
    return false;
}

bool TopicFilterSet::matches(std::string_view topic) const
{
    if (all_)
        return true;
    for (const TopicFilter &f : filters_)
        if (f.matches(topic))
            return true;
    return false;
}

} // namespace dfmq
