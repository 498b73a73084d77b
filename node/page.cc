#include "node/page.h"

namespace shoal::node {}  // namespace shoal::node
