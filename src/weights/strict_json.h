// Parsing JSON from files exactly: one value, nothing after it but whitespace, no comments, valid
// UTF-8, no byte-order mark, and no object with the same key twice (nlohmann's parser keeps the
// last duplicate silently, while other readers keep the first: a file must mean one thing).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace vrestore {

// Throws vrestore::Error "<what> is not valid JSON: ..." or "<what> has the key 'k' twice".
nlohmann::json parse_strict_json(const char* begin, const char* end, const std::string& what);

}  // namespace vrestore
