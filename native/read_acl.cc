#include "read_acl.h"

#include <algorithm>

namespace dfmq
{

namespace
{

char lowerAscii(char c)
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace

bool containsIgnoringAsciiCase(std::string_view haystack, std::string_view lowerNeedle)
{
    if (lowerNeedle.empty())
        return true;
    if (haystack.size() < lowerNeedle.size())
        return false;
    const size_t last = haystack.size() - lowerNeedle.size();
    for (size_t i = 0; i <= last; i++)
    {
        size_t j = 0;
        while (j < lowerNeedle.size() && lowerAscii(haystack[i + j]) == lowerNeedle[j])
            j++;
        if (j == lowerNeedle.size())
            return true;
    }
    return false;
}

int ReadAcl::gateIndex(const std::string &name)
{
    for (size_t i = 0; i < gates_.size(); i++)
        if (gates_[i].name == name)
            return static_cast<int>(i);
    gates_.push_back(Gate{name, Clock::time_point::min()});
    return static_cast<int>(gates_.size() - 1);
}

void ReadAcl::setRules(std::vector<ReadRule> rules)
{
    std::vector<CompiledRule> compiled;
    compiled.reserve(rules.size());
    for (ReadRule &r : rules)
    {
        std::transform(r.containsIgnoreCase.begin(), r.containsIgnoreCase.end(), r.containsIgnoreCase.begin(), lowerAscii);
        CompiledRule c;
        c.gate = r.gate.empty() ? -1 : gateIndex(r.gate);
        c.rule = std::move(r);
        compiled.push_back(std::move(c));
    }
    rules_ = std::move(compiled);
}

void ReadAcl::openGate(const std::string &name, std::chrono::milliseconds duration, Clock::time_point now)
{
    Gate &g = gates_[static_cast<size_t>(gateIndex(name))];
    g.openUntil = duration.count() > 0 ? now + duration : Clock::time_point::min();
}

bool ReadAcl::gateOpen(const std::string &name, Clock::time_point now) const
{
    for (const Gate &g : gates_)
        if (g.name == name)
            return now < g.openUntil;
    return false;
}

void ReadAcl::setTrusted(const std::string &clientId, const std::string &username, bool trusted)
{
    if (trusted)
        trusted_[clientId] = username;
    else
        trusted_.erase(clientId);
}

std::string ReadAcl::trustedUsername(const std::string &clientId) const
{
    auto it = trusted_.find(clientId);
    return it == trusted_.end() ? std::string() : it->second;
}

// I/local/<direction>/<role>/<uid>/...: 'in' is for the integrations service, 'out' for the token user
// token/<role>/<uid>.
bool ReadAcl::integrationAllows(const std::string &username, const std::vector<std::string> &s) const
{
    if (s.size() < 5)
        return false;
    const std::string &direction = s[2];
    if (username == integration_.integrationsUser)
        return direction == "in";
    if (direction != "out")
        return false;
    // username must be exactly token/<role>/<uid>, with a uid
    const std::string &role = s[3];
    const std::string &uid = s[4];
    const std::string expected = "token/" + role + "/" + uid;
    return !uid.empty() && role.find('/') == std::string::npos && username == expected;
}

bool ReadAcl::allows(const std::string &clientId, const std::string &username, std::string_view topic, const std::vector<std::string> &subtopics,
                     std::optional<Clock::time_point> now) const
{
    if (integration_.enabled && subtopics.size() >= 2 && subtopics[0] == "I")
    {
        if (subtopics[1] == "local")
            return integrationAllows(username, subtopics) || trusted(clientId);
        const bool privilegedUser = username == integration_.integrationsUser ||
                                    std::find(integration_.bridgeUsers.begin(), integration_.bridgeUsers.end(), username) != integration_.bridgeUsers.end();
        if (!privilegedUser && !trusted(clientId))
            return false;
    }

    for (const CompiledRule &c : rules_)
    {
        const ReadRule &r = c.rule;
        if (!r.filter.matches(subtopics))
            continue;
        if (!r.contains.empty() && topic.find(r.contains) == std::string_view::npos)
            continue;
        if (!r.containsIgnoreCase.empty() && !containsIgnoringAsciiCase(topic, r.containsIgnoreCase))
            continue;
        if (!r.usernames.empty() && std::find(r.usernames.begin(), r.usernames.end(), username) == r.usernames.end())
            continue;
        if (c.gate >= 0)
        {
            if (!now)
                now = Clock::now();
            if (*now < gates_[static_cast<size_t>(c.gate)].openUntil)
                continue;
        }
        return false;
    }
    return true;
}

} // namespace dfmq
