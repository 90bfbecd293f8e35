// Subcommand registry and lmforge's CLI conventions (YAML --config, resolved config output).
#include "cli/command.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

#include "cli/option_limits.h"
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

// Finds the deepest subcommand named by the leading non-option words of argv.
CLI::App* find_command(CLI::App& root, const std::vector<std::string>& args, size_t* path_end) {
  CLI::App* cur = &root;
  size_t i = 1;
  for (; i < args.size(); ++i) {
    if (args[i].empty() || args[i][0] == '-') break;
    CLI::App* sub = nullptr;
    try {
      sub = cur->get_subcommand(args[i]);
    } catch (const CLI::OptionNotFound&) {
      break;
    }
    cur = sub;
  }
  *path_end = i;
  return cur;
}

// True when argv already sets option `name` (as --name, --name=..., or one of its short forms).
bool given_on_command_line(const CLI::Option* opt, const std::vector<std::string>& args,
                           size_t from) {
  for (size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    for (const auto& l : opt->get_lnames())
      if (a == "--" + l || a.rfind("--" + l + "=", 0) == 0) return true;
    for (const auto& s : opt->get_snames())
      if (a == "-" + s) return true;
  }
  return false;
}

std::vector<std::string> values_of(const YAML::Node& v, const std::string& file,
                                   const std::string& key) {
  std::vector<std::string> out;
  if (v.IsSequence()) {
    for (const auto& e : v) {
      if (!e.IsScalar())
        throw CLI::ConversionError("config file " + file + ": key '" + key +
                                   "' must be a value or a list of values");
      out.push_back(e.as<std::string>());
    }
  } else if (v.IsScalar()) {
    out.push_back(v.as<std::string>());
  } else if (!v.IsNull()) {
    throw CLI::ConversionError("config file " + file + ": key '" + key +
                               "' must be a value or a list of values");
  }
  return out;
}

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
  attach_option_limits(root);      // after every option exists
  attach_precision_options(root);  // --precision on the commands that run a model
}

CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& description) {
  CLI::App* sub = parent.add_subcommand(name, description);
  // Read by expand_config_file() before parsing: CLI11 2.1 only reads the root app's config file.
  sub->add_option("--config",
                  "YAML file whose keys are this command's long option names (with "
                  "'-' or '_'); options given on the command line override it")
      ->type_name("FILE.yaml");
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
      std::string d = opt->get_default_str();
      if (opt->get_expected_max() > 1 && d.size() >= 2 && d.front() == '[' && d.back() == ']') {
        // CLI11 renders a vector default as "[a,b,c]"
        std::stringstream ss(d.substr(1, d.size() - 2));
        for (std::string item; std::getline(ss, item, ',');) values.push_back(item);
      } else {
        values = {d};
      }
    }
    if (opt->get_expected_max() == 0) {  // a flag
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
  // The full path for nested commands ("label export", "reward score").
  std::string path = command.get_name();
  for (const CLI::App* p = command.get_parent(); p && p->get_parent(); p = p->get_parent())
    path = p->get_name() + " " + path;
  std::fprintf(stderr, "lmforge %s: resolved configuration\n", path.c_str());
  std::istringstream in(resolved_config_yaml(command));
  std::string line;
  while (std::getline(in, line)) std::fprintf(stderr, "  %s\n", line.c_str());
}

std::vector<std::string> expand_config_file(CLI::App& root, std::vector<std::string> args) {
  size_t path_end = 0;
  CLI::App* cmd = find_command(root, args, &path_end);
  std::string file;
  size_t at = 0, span = 0;
  for (size_t i = path_end; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--config" && i + 1 < args.size()) {
      file = args[i + 1], at = i, span = 2;
      break;
    }
    if (args[i].rfind("--config=", 0) == 0) {
      file = args[i].substr(9), at = i, span = 1;
      break;
    }
  }
  if (file.empty()) return args;
  args.erase(args.begin() + static_cast<long>(at), args.begin() + static_cast<long>(at + span));
  YAML::Node node;
  try {
    node = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    throw InputError(file, 0, "", "cannot read config file", "check the --config path");
  } catch (const YAML::Exception& e) {
    throw InputError(file, e.mark.line + 1, "", "not valid YAML: " + e.msg,
                     "the file must be a mapping of option: value");
  }
  if (node.IsNull()) return args;
  if (!node.IsMap())
    throw InputError(file, 0, "", "config must be a YAML mapping of option: value",
                     "keys are the long option names of `lmforge " + cmd->get_name() + "`");
  std::vector<std::string> inserted;
  for (const auto& kv : node) {
    std::string key = normalize_key(kv.first.as<std::string>());
    CLI::Option* opt = cmd->get_option_no_throw("--" + key);
    if (opt == nullptr || key == "config" || key == "help")
      throw InputError(file, kv.first.Mark().line + 1, key,
                       "unknown option for `lmforge " + cmd->get_name() + "`",
                       "keys are the long option names listed by --help");
    if (given_on_command_line(opt, args, path_end)) continue;  // the command line wins
    std::vector<std::string> values;
    try {
      values = values_of(kv.second, file, key);
    } catch (const CLI::ConversionError&) {
      throw InputError(file, kv.first.Mark().line + 1, key, "must be a value or a list of values");
    }
    if (opt->get_expected_max() == 0) {  // a flag: true/false
      if (values.size() != 1)
        throw InputError(file, kv.first.Mark().line + 1, key, "expected true or false");
      std::string v = values[0];
      if (v == "true" || v == "yes" || v == "on" || v == "1") {
        inserted.push_back("--" + key);
      } else if (!(v == "false" || v == "no" || v == "off" || v == "0")) {
        throw InputError(file, kv.first.Mark().line + 1, key,
                         "expected true or false, got '" + v + "'");
      }
      continue;
    }
    if (values.empty() || (values.size() == 1 && values[0] == "null")) continue;
    // The option's own checks (range, finiteness, choices), here so the error names the file
    // and line; parsing runs them again on the inserted values.
    for (const std::string& v : values)
      for (int i = 0;; ++i) {
        const CLI::Validator* check = nullptr;
        try {
          check = opt->get_validator(i);
        } catch (const CLI::OptionNotFound&) {
          break;
        }
        const std::string err = (*check)(v);
        if (!err.empty()) throw InputError(file, kv.first.Mark().line + 1, key, err);
      }
    inserted.push_back("--" + key);
    for (auto& v : values) inserted.push_back(v);
  }
  args.insert(args.begin() + static_cast<long>(path_end), inserted.begin(), inserted.end());
  return args;
}

}  // namespace lmforge::cli
