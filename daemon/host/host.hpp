// Everything a component needs to load plugins and call them.
#pragma once

#include "host/attention_handle.hpp"
#include "host/plugin_error.hpp"
#include "host/plugin_instance.hpp"
#include "host/plugin_registry.hpp"
#include "host/plugin_reports.hpp"
#include "host/positional_handle.hpp"
#include "host/tokenizer_handle.hpp"
