// `qkvd pipelines`: the pipelines of the configured folder, each validated.
#include <iostream>

#include "cli/cli_context.hpp"
#include "config/diagnostics.hpp"
#include "config/pipeline_config.hpp"

namespace qkv::cli {

void register_pipelines(CLI::App& app, CliContext& ctx) {
  CLI::App* sub =
      app.add_subcommand("pipelines", "List the pipelines of the configured pipelines folder");
  sub->callback([&ctx] {
    try {
      const auto& daemon = ctx.daemon_config();
      std::cout << "pipelines in " << daemon.pipelines_dir.string() << ":\n";
      int bad = 0;
      for (const auto& file : config::list_pipelines(daemon.pipelines_dir)) {
        const std::string name = file.stem().string();
        try {
          auto p = config::load_pipeline_config(file);
          std::cout << "  " << name << (name == daemon.default_pipeline ? " (default)" : "") << ": "
                    << (p.tokenizer.from_model ? "tokenizer from the model" : p.tokenizer.plugin)
                    << (p.model ? " + model" : "") << " -> "
                    << (p.output.format ? config::to_string(*p.output.format)
                        : p.model       ? "npy"
                                        : "by extension");
          if (!p.description.empty()) std::cout << "  # " << p.description;
          std::cout << "\n";
        } catch (const config::ConfigError& e) {
          ++bad;
          std::cout << "  " << name << ": INVALID\n";
          for (const auto& d : e.diagnostics()) std::cout << "    " << d.str() << "\n";
        }
      }
      ctx.exit_code = bad ? 1 : 0;
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n";
      ctx.exit_code = 1;
    }
  });
}

}  // namespace qkv::cli
