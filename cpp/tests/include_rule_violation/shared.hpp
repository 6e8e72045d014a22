#pragma once
#include "advrec/beta.hpp"
