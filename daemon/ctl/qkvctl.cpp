// qkvctl: the command-line client of qkvd (docs/service.md, docs/protocol.md).
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "ctl/commands.hpp"
#include "ctl/exit_codes.hpp"

using namespace qkv::ctl;

int main(int argc, char** argv) {
  CLI::App app{"qkvctl: submit and watch qkvd jobs", "qkvctl"};
  app.require_subcommand(1);
  app.fallthrough();
  Options o;
  app.add_option("--socket,-s", o.socket,
                 "qkvd's socket (default: $QKV_SOCKET, else `socket` of the default config)");
  app.add_option("--config,-c", o.config,
                 "Daemon config whose socket to use (default: $QKVD_CONFIG, /etc/qkv/qkvd.yaml)");
  app.add_flag("--json", o.json, "Print qkvd's replies as JSON lines (for scripts)");

  auto* submit = app.add_subcommand("submit", "Submit a file job (paths are made absolute)");
  submit->add_option("inputs", o.inputs, "Input files or globs (.jsonl, .txt, optionally .gz/.zst)")
      ->required();
  submit->add_option("--output,-o", o.output, "Output file")->required();
  submit->add_option("--pipeline,-p", o.pipeline,
                     "Pipeline name or YAML path (default: the daemon's)");
  submit->add_option("--set", o.sets, "Pipeline override key.path=value (repeatable)");
  submit->add_flag("--decode", o.decode, "Ids to text");
  submit->add_option("--threads", o.threads, "Threads for this job (default: the shared arena)");
  submit->add_flag("--wait,-w", o.wait, "Wait for the end, showing progress");
  submit->add_option("--request-id", o.request_id,
                     "Idempotency key: a retry with the same id and job gets the first job back");
  submit->add_option("--queue", o.queue, "local (this qkvd's spool) or redis (its Redis stream)")
      ->check(CLI::IsMember({"local", "redis"}));
  submit
      ->add_option("--shards", o.shards,
                   "Cut the inputs into N contiguous shards, each writing OUT-%05d-of-%05d.<ext> "
                   "(docs/scale-out.md)")
      ->check(CLI::Range(1u, 99999u));

  auto* status = app.add_subcommand("status", "Show a job");
  status->add_option("id", o.id, "Job id")->required();
  auto* wait = app.add_subcommand("wait", "Wait for a job to end, showing progress");
  wait->add_option("id", o.id, "Job id")->required();
  auto* cancel = app.add_subcommand("cancel", "Cancel a job (and wait until it stopped)");
  cancel->add_option("id", o.id, "Job id")->required();
  cancel->add_flag("--no-wait", o.no_wait, "Return at once");
  auto* list = app.add_subcommand("list", "List queued, running and recent jobs");
  list->add_option("--state", o.state, "Only jobs in this state");
  list->add_option("--limit", o.limit, "At most this many");
  app.add_subcommand("stats", "Daemon counters");
  app.add_subcommand("reload", "Reload pipelines and plugins (like SIGHUP)");
  app.add_subcommand("health",
                     "Is qkvd up? ok or degraded (with its problems): exit 0; draining: 75");
  app.add_subcommand("plugins", "The plugins the running qkvd loaded, and those it refused");
  app.add_subcommand("pipelines", "The running qkvd's pipelines, each as validated at its load");
  auto* run =
      app.add_subcommand("run", "Run inline texts and print their ids (one JSON line each)");
  run->add_option("--pipeline,-p", o.pipeline,
                  "Pipeline name or YAML path (default: the daemon's)");
  // One value per --text: CLI11 would otherwise split '[0,1,2]' into three texts.
  run->add_option("--text,-t", o.texts, "A text (repeatable); none: one text per stdin line")
      ->allow_extra_args(false);
  run->add_option("--set", o.sets, "Pipeline override key.path=value (repeatable)");
  run->add_flag("--decode", o.decode, "Texts are JSON id arrays; print the decoded text");
  run->add_flag("--text-only", o.text_only,
                "Print only each result's \"text\" (generation pipelines), one per line");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kUsage;
  }
  o.tty = ::isatty(STDERR_FILENO);
  return run_command(app.get_subcommands().front()->get_name(), o);
}
