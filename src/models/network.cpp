#include "models/network.h"

#include "core/check.h"
#include "models/edvr.h"

namespace vrestore {

std::unique_ptr<Network> load_network(Weights& w) {
  const std::string& arch = w.arch();
  std::unique_ptr<Network> net;
  if (arch == "basicsr.EDVR" || arch == "mmedit.EDVRNet") {
    net = std::make_unique<Edvr>(w);
  } else {
    fail("weights '", w.file().path(), "': architecture '", arch,
         "' is not supported by this build (supported: basicsr.EDVR, mmedit.EDVRNet)");
  }
  w.finish();
  return net;
}

}  // namespace vrestore
