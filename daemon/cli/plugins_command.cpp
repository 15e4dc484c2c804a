// `qkvd plugins`: what loaded, and what was refused and why.
#include <iostream>

#include "cli/cli_context.hpp"
#include "host/plugin_reports.hpp"

namespace qkv::cli {

void register_plugins(CLI::App& app, CliContext& ctx) {
  CLI::App* sub = app.add_subcommand(
      "plugins", "List the plugins that loaded and the ones refused, with the cause");
  sub->callback([&ctx] {
    try {
      auto dirs = ctx.plugin_dirs();
      std::cout << "plugin folders:";
      for (const auto& d : dirs) std::cout << " " << d.string();
      std::cout << "\n";
      host::print_plugin_reports(std::cout, ctx.plugins());
      ctx.exit_code = 0;
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n";
      ctx.exit_code = 1;
    }
  });
}

}  // namespace qkv::cli
