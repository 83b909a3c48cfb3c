#include "weights/strict_json.h"

#include <set>
#include <vector>

#include "core/check.h"

namespace vrestore {

nlohmann::json parse_strict_json(const char* begin, const char* end, const std::string& what) {
  using json = nlohmann::json;
  VR_CHECK(!(end - begin >= 3 && static_cast<unsigned char>(begin[0]) == 0xef &&
             static_cast<unsigned char>(begin[1]) == 0xbb && static_cast<unsigned char>(begin[2]) == 0xbf),
           what, " starts with a byte-order mark; expected plain JSON");
  std::vector<std::set<std::string>> keys;  // the keys seen so far in each open object
  auto callback = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: keys.emplace_back(); break;
      case json::parse_event_t::object_end: keys.pop_back(); break;
      case json::parse_event_t::key: {
        const std::string& key = parsed.get_ref<const std::string&>();
        VR_CHECK(keys.back().insert(key).second, what, " has the key '", key, "' twice");
        break;
      }
      default: break;
    }
    return true;
  };
  try {
    return json::parse(begin, end, callback);
  } catch (const json::exception& e) {
    fail(what, " is not valid JSON: ", e.what());
  }
}

}  // namespace vrestore
