// The read ACL: every delivery of every message to every subscriber asks it, so it is answered here in C++
// from a small rule state that TypeScript pushes, never by calling JavaScript.
//
// A delivery is allowed unless a rule matches it. A rule matches when all of its conditions hold:
//   - the topic matches its filter;
//   - the topic contains `contains` (when given), and contains `containsIgnoreCase` in any ASCII case (when given);
//   - the subscriber's username is one of `usernames` (when given);
//   - its gate (when given) is closed. A gate is opened for a while by `openGate` and closes by itself.
// The rules survive the JavaScript side: if it stops, the last rules it pushed keep protecting deliveries.
//
// Beside the rules, the integration policy of Venus (topics I/...): I/local/in/<role>/<uid>/... reaches only the
// integrations service, I/local/out/<role>/<uid>/... only the token user token/<role>/<uid>; I/<other>/... only
// the integrations service and the bridges. Trusted clients (those that logged in from localhost) receive all of
// them. TypeScript says who is trusted; a client that disconnects is forgotten here.

#ifndef DFMQ_READ_ACL_H
#define DFMQ_READ_ACL_H

#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "topic_filter.h"

namespace dfmq
{

struct ReadRule
{
    TopicFilter filter;
    std::string contains;
    std::string containsIgnoreCase; // stored in lower case
    std::vector<std::string> usernames;
    std::string gate;
};

struct IntegrationPolicy
{
    bool enabled = false;
    std::string integrationsUser;
    std::vector<std::string> bridgeUsers;
};

class ReadAcl
{
public:
    using Clock = std::chrono::steady_clock;

    void setIntegrationPolicy(IntegrationPolicy policy) { integration_ = std::move(policy); }
    void setTrusted(const std::string &clientId, const std::string &username, bool trusted);
    bool trusted(const std::string &clientId) const { return trusted_.count(clientId) != 0; }
    /** The username a trusted client logged in with (empty if it is not trusted). */
    std::string trustedUsername(const std::string &clientId) const;
    size_t trustedCount() const { return trusted_.size(); }

    void setRules(std::vector<ReadRule> rules);
    void openGate(const std::string &name, std::chrono::milliseconds duration, Clock::time_point now);
    bool gateOpen(const std::string &name, Clock::time_point now) const;

    // `now` is read from the clock only when a gated rule needs it, unless given.
    bool allows(const std::string &clientId, const std::string &username, std::string_view topic, const std::vector<std::string> &subtopics,
                std::optional<Clock::time_point> now = std::nullopt) const;
    size_t ruleCount() const { return rules_.size(); }

private:
    struct CompiledRule
    {
        ReadRule rule;
        int gate = -1;
    };
    struct Gate
    {
        std::string name;
        Clock::time_point openUntil;
    };

    int gateIndex(const std::string &name);
    bool integrationAllows(const std::string &username, const std::vector<std::string> &subtopics) const;

    std::vector<CompiledRule> rules_;
    std::vector<Gate> gates_;
    IntegrationPolicy integration_;
    std::unordered_map<std::string, std::string> trusted_; // client id -> username
};

bool containsIgnoringAsciiCase(std::string_view haystack, std::string_view lowerNeedle);

} // namespace dfmq

#endif
