// moecheck: checks an implementation that lives elsewhere (a PyTorch custom op, a Triton kernel)
// through files (suites/exchange/dump.hpp says what a dump holds).
//
//   moecheck list [--catalog DIR] [--filter TEXT]
//       the catalog cases that have a dump (gemm1, gemm2, act, sum, e2e), as <suite>.<name>
//   moecheck dump --case <suite.name | name> [--catalog DIR] --out DIR
//       writes the case's inputs as .npy files and case.json into DIR
//   moecheck verify --dir DIR --stage STAGE --output out.npy
//       recomputes the stage's reference from DIR's files alone (a dump can travel without the
//       catalog), judges out.npy with the suites' tolerance model and comparator and prints the
//       suites' result line
//
// Exit status: 0 Passed (dump, list: done); 1 Incorrect or Failed; 2 bad input (a malformed or
// inconsistent file, an unknown case, bad arguments).
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>
#include <new>

#include "catalog.hpp"
#include "dump.hpp"
#include "moecheck/reference/error.hpp"

#ifndef MOECHECK_DEFAULT_CATALOG
#define MOECHECK_DEFAULT_CATALOG "cases"
#endif

namespace moecheck {
namespace {

constexpr int kExitPassed = 0, kExitFailed = 1, kExitBadInput = 2;

std::string default_catalog() {
  if (const char* e = std::getenv("MOECHECK_CATALOG")) return e;
  return MOECHECK_DEFAULT_CATALOG;
}

// `spec` is "<suite>.<name>" or a bare name; a bare name in several suites is ambiguous.
const Case& find_case(const Catalog& cat, const std::string& spec, const std::string& dir) {
  const auto dot = spec.find('.');
  const std::string suite = dot == std::string::npos ? "" : spec.substr(0, dot);
  const std::string name = dot == std::string::npos ? spec : spec.substr(dot + 1);
  std::vector<const Case*> found;
  for (const Case& c : cat.cases) {
    if ((suite.empty() || c.suite == suite) && c.name() == name) found.push_back(&c);
  }
  if (found.empty()) {
    throw InputError("no case " + spec + " in the catalog " + dir +
                     " (moecheck list shows the cases that have a dump)");
  }
  if (found.size() > 1) {
    std::string suites;
    for (const Case* c : found) suites += " " + c->suite + "." + name;
    throw InputError("case " + name + " is in several suites; name one of:" + suites);
  }
  return *found.front();
}

int run_dump(const std::string& spec, const std::string& catalog, const std::string& out) {
  const Catalog cat = load_catalog(catalog);
  const Case& c = find_case(cat, spec, catalog);
  const std::string test = c.suite + "." + c.name();
  const DumpManifest m = dump_case(c, test, out);
  std::cout << "moecheck: wrote " << m.arrays.size() << " arrays and case.json of " << test
            << " to " << out << "\n";
  std::cout << "  verify an output with: moecheck verify --dir " << out << " --stage "
            << verifiable_stages(c.stage).front() << " --output out.npy\n";
  return kExitPassed;
}

int run_list(const std::string& catalog, const std::string& filter) {
  const Catalog cat = load_catalog(catalog);
  for (const Case& c : cat.cases) {
    const std::string test = c.suite + "." + c.name();
    if (stage_has_dump(c.stage) && test.find(filter) != std::string::npos)
      std::cout << test << "\n";
  }
  return kExitPassed;
}

int run_verify(const std::string& dir, const std::string& stage, const std::string& output) {
  const StageReference s = reference_from_dump(dir, stage);
  const std::vector<uint16_t> got = read_output(output, s);
  const Comparison cmp = compare(got, s.ref.cols, s.ref, s.tol, s.poison, s.only_rows);
  std::cout << "moecheck-result " << result_json(s.test, s.stage, cmp) << "\n";
  std::cout << s.test << " " << s.stage << ": " << result_text(cmp) << "\n";
  return cmp.outcome == Outcome::Passed ? kExitPassed : kExitFailed;
}

}  // namespace
}  // namespace moecheck

int main(int argc, char** argv) {
  using namespace moecheck;
  CLI::App app{"moecheck: check a W4A16 MoE implementation that lives elsewhere through files"};
  app.require_subcommand(1);

  std::string spec, catalog = default_catalog(), out, filter;
  CLI::App* list = app.add_subcommand("list", "the catalog cases that have a dump");
  list->add_option("--catalog", catalog, "the case catalog folder");
  list->add_option("--filter", filter, "only names containing this text");

  CLI::App* dump =
      app.add_subcommand("dump", "write a catalog case's inputs as .npy plus case.json");
  dump->add_option("--case", spec, "the case: <suite>.<name> or <name> (as ctest lists it)")
      ->required();
  dump->add_option(
      "--catalog", catalog,
      "the case catalog folder (default: $MOECHECK_CATALOG or the source tree's cases/)");
  dump->add_option("--out", out, "the folder to write (created)")->required();

  std::string dir, stage, output;
  CLI::App* verify =
      app.add_subcommand("verify", "judge an implementation's output against a dump's reference");
  verify->add_option("--dir", dir, "a folder written by moecheck dump")->required();
  verify
      ->add_option("--stage", stage,
                   "gemm1, gemm2, act, sum; of an e2e dump: gemm1, act, gemm2, out")
      ->required();
  verify->add_option("--output", output, "the implementation's output (.npy) for that stage")
      ->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints the help, or the error and a hint
    return rc == 0 ? 0 : kExitBadInput;
  }
  try {
    if (*list) return run_list(catalog, filter);
    if (*dump) return run_dump(spec, catalog, out);
    return run_verify(dir, stage, output);
  } catch (const InputError& e) {
    std::cerr << "moecheck: " << e.what() << "\n";
  } catch (const CatalogError& e) {
    std::cerr << "moecheck: catalog error: " << e.what() << "\n";
  } catch (const std::bad_alloc&) {
    std::cerr << "moecheck: out of memory: the dump's sizes are beyond this machine\n";
  } catch (const std::exception& e) {
    std::cerr << "moecheck: " << e.what() << "\n";
  }
  return kExitBadInput;
}
