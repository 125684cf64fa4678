// Transitional: tools/ includes the PAM module's options under this name. Remove once it
// includes pam_options.h.
#pragma once

#include "pam_options.h"
