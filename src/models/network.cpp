#include "models/network.h"

#include "core/check.h"
#include "models/basicvsr.h"
#include "models/edvr.h"
#include "models/spynet.h"
#include "models/vrt.h"

namespace vrestore {

std::unique_ptr<Network> load_network(Weights& w) {
  const std::string& arch = w.arch();
  std::unique_ptr<Network> net;
  if (arch == "basicsr.EDVR" || arch == "mmedit.EDVRNet") {
    net = std::make_unique<Edvr>(w);
  } else if (arch == "basicsr.BasicVSR" || arch == "mmedit.BasicVSRNet") {
    net = std::make_unique<BasicVsr>(BasicVsr::load(w));
  } else if (arch == "mmedit.RealBasicVSRNet") {
    net = std::make_unique<RealBasicVsr>(w);
  } else if (arch == "basicsr.SpyNet" || arch == "mmedit.SPyNet") {
    net = std::make_unique<SpyNetNetwork>(w);
  } else if (arch == "vrt.VRT") {
    net = std::make_unique<Vrt>(w);
  } else {
    fail("weights '", w.file().path(), "': architecture '", arch,
         "' is not supported by this build (supported: basicsr.EDVR, mmedit.EDVRNet, basicsr.BasicVSR, mmedit.BasicVSRNet, mmedit.RealBasicVSRNet, basicsr.SpyNet, mmedit.SPyNet, vrt.VRT)");
  }
  w.finish();
  return net;
}

}  // namespace vrestore
