// Subcommand registry and lmforge's CLI conventions (YAML --config, resolved config output).
#include "cli/command.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

#include "lmforge/core/error.h"

namespace lmforge::cli {
namespace {

std::vector<std::pair<int, CommandSetup>>& registry() {
  static std::vector<std::pair<int, CommandSetup>> r;  // filled only during static init
  return r;
}

std::string normalize_key(std::string k) {
  std::replace(k.begin(), k.end(), '_', '-');
  return k;
}

// CLI11 config reader for YAML. Top-level keys are long option names (with '-' or '_'); a
// scalar becomes one input, a sequence several, `true`/`false` set flags.
class YamlConfig : public CLI::Config {
 public:
  std::string to_config(const CLI::App*, bool, bool, std::string) const override { return ""; }

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    std::stringstream ss;
    ss << input.rdbuf();
    YAML::Node root;
    try {
      root = YAML::Load(ss.str());
    } catch (const YAML::Exception& e) {
      throw CLI::ConversionError("config file is not valid YAML: line " +
                                 std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    std::vector<CLI::ConfigItem> items;
    if (root.IsNull()) return items;
    if (!root.IsMap()) throw CLI::ConversionError("config file must be a YAML mapping of option: value");
    for (const auto& kv : root) {
      CLI::ConfigItem item;
      item.name = normalize_key(kv.first.as<std::string>());
      const YAML::Node& v = kv.second;
      if (v.IsSequence()) {
        for (const auto& e : v) item.inputs.push_back(e.as<std::string>());
      } else if (v.IsScalar()) {
        item.inputs.push_back(v.as<std::string>());
      } else if (v.IsNull()) {
        continue;  // "key:" with no value keeps the default
      } else {
        throw CLI::ConversionError("config key '" + item.name + "' must be a value or a list");
      }
      items.push_back(std::move(item));
    }
    return items;
  }
};

std::string yaml_scalar(const std::string& s) {
  YAML::Emitter e;
  e << s;
  return e.c_str();
}

}  // namespace

bool register_command(int order, CommandSetup setup) {
  registry().emplace_back(order, std::move(setup));
  return true;
}

void build_commands(CLI::App& root) {
  auto r = registry();
  std::stable_sort(r.begin(), r.end(), [](auto& a, auto& b) { return a.first < b.first; });
  for (auto& [order, setup] : r) setup(root);
}

CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& description) {
  CLI::App* sub = parent.add_subcommand(name, description);
  sub->set_config("--config", "", "YAML file whose keys are this command's long option names; "
                                   "options given on the command line override it");
  sub->config_formatter(std::make_shared<YamlConfig>());
  sub->allow_config_extras(CLI::config_extras_mode::error);
  sub->option_defaults()->always_capture_default();
  return sub;
}

std::string resolved_config_yaml(const CLI::App& command) {
  std::ostringstream out;
  for (const CLI::Option* opt : command.get_options()) {
    std::string key = opt->get_single_name();
    if (key.empty() || key == "help" || key == "config" || key == "help-all") continue;
    if (opt->get_lnames().empty()) continue;
    key = opt->get_lnames().front();
    std::vector<std::string> values;
    if (opt->count() > 0) {
      values = opt->as<std::vector<std::string>>();
    } else if (!opt->get_default_str().empty()) {
      values = {opt->get_default_str()};
    }
    if (opt->get_type_size() == 0) {  // a flag
      out << key << ": " << (opt->count() > 0 ? "true" : "false") << "\n";
    } else if (values.empty()) {
      out << key << ": null\n";
    } else if (values.size() == 1 && opt->get_expected_max() <= 1) {
      out << key << ": " << yaml_scalar(values[0]) << "\n";
    } else {
      out << key << ":\n";
      for (auto& v : values) out << "  - " << yaml_scalar(v) << "\n";
    }
  }
  return out.str();
}

void print_resolved_config(const CLI::App& command) {
  std::fprintf(stderr, "lmforge %s: resolved configuration\n", command.get_name().c_str());
  std::istringstream in(resolved_config_yaml(command));
  std::string line;
  while (std::getline(in, line)) std::fprintf(stderr, "  %s\n", line.c_str());
}

}  // namespace lmforge::cli
