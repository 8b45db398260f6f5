// MQTT topic filters ('+' for one level, '#' for the rest), matched against already-split topics.
// Used by the read ACL rules and by the filters that decide which hooks reach JavaScript.

#ifndef DFMQ_TOPIC_FILTER_H
#define DFMQ_TOPIC_FILTER_H

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dfmq
{

class TopicFilter
{
public:
    // Returns nothing and sets `error` when the text is not a valid MQTT topic filter.
    static std::optional<TopicFilter> parse(std::string_view text, std::string &error);

    // As for subscriptions, a wildcard in the first level does not match topics that start with '$'.
    bool matches(const std::vector<std::string> &subtopics) const;
    bool matches(std::string_view topic) const;

    const std::string &text() const { return text_; }

private:
    std::string text_;
    std::vector<std::string> levels_;
};

// A list of filters; `all` makes it match every topic without looking at the filters.
class TopicFilterSet
{
public:
    static TopicFilterSet everything();
    static TopicFilterSet nothing();

    void setAll() { all_ = true; filters_.clear(); }
    void setFilters(std::vector<TopicFilter> filters) { all_ = false; filters_ = std::move(filters); }

    bool matches(const std::vector<std::string> &subtopics) const;
    bool matches(std::string_view topic) const;
    bool matchesEverything() const { return all_; }
    size_t size() const { return filters_.size(); }

private:
    bool all_ = false;
    std::vector<TopicFilter> filters_;
};

std::vector<std::string> splitTopic(std::string_view topic);

} // namespace dfmq

#endif
