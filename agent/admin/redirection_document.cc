#include "agent/admin/redirection_document.h"

namespace warren::agent::admin {

using nlohmann::json;

std::string podRedirectionState(const EnrolmentController::PodRedirection& pod,
                                const std::optional<redirect::PinnedInventory>& inventory) {
  if (pod.netns_cookie == 0) return "pending";
  if (!inventory) return "zds-only";
  return inventory->enrolled_cookies.contains(pod.netns_cookie) ? "enrolled" : "failed";
}

json redirectionDocument(const RedirectionInputs& in) {
  json items = json::array();
  for (const auto& p : in.pods) {
    auto path = in.netns_paths.find(p.netns_inode);
    items.push_back({
        {"namespace", p.ns},
        {"pod", p.name},
        {"uid", p.uid},
        {"address", p.ip},
        {"netns_cookie", p.netns_cookie ? json(p.netns_cookie) : json(nullptr)},
        {"netns", path == in.netns_paths.end() || p.netns_inode == 0 ? "" : path->second},
        {"state", podRedirectionState(p, in.inventory)},
    });
  }
  json programs = json::array();
  json links = json::array();
  json enrolled = json::array();
  if (in.inventory) {
    for (const auto& p : in.inventory->programs)
      programs.push_back(
          {{"name", p.name}, {"attach_type", p.attach_type}, {"id", p.id}, {"pin", p.pin}});
    for (const auto& l : in.inventory->links) {
      std::string target;
      if (l.type == "cgroup") {
        if (l.cgroup_id == 0)
          target = "";  // the cgroup is gone: the kernel detached the link
        else if (l.cgroup_id == in.cgroup_id && !in.cgroup.empty())
          target = in.cgroup;
        else
          target = "cgroup id " + std::to_string(l.cgroup_id);
      } else if (l.type == "netns") {
        target = l.netns_ino == 0 ? "" : "netns cookie " + std::to_string(l.netns_cookie);
      }
      links.push_back({{"id", l.id},
                       {"type", l.type},
                       {"program", l.program},
                       {"program_id", l.prog_id},
                       {"attach_type", l.attach_type},
                       {"target", target},
                       {"attached", l.type == "cgroup" ? l.cgroup_id != 0 : l.netns_ino != 0},
                       {"pin", l.pin}});
    }
    for (uint64_t c : in.inventory->enrolled_cookies) enrolled.push_back(c);
  }
  json counters = json::object();
  for (const auto& c : in.counters) counters[c.name] = c.value;
  json doc = {{"kind", "redirection"},           {"node", in.node},
              {"pin_dir", in.pin_dir},           {"items", std::move(items)},
              {"programs", std::move(programs)}, {"links", std::move(links)},
              {"counters", std::move(counters)}, {"enrolled_cookies", std::move(enrolled)}};
  if (in.pin_repairs) {
    // Pins removed by hand and put back by this agent (bpf/README.md).
    const auto& r = *in.pin_repairs;
    doc["pin_repairs"] = {{"repairs", r.repairs},
                          {"pins_restored", r.pins_restored},
                          {"failures", r.failures},
                          {"last_error", r.last_error}};
  }
  if (!in.pins_error.empty()) doc["pins_error"] = in.pins_error;
  return doc;
}

}  // namespace warren::agent::admin
