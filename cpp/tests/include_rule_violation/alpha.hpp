// advrec:model
#pragma once
