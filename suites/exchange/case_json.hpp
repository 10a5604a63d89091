// case.json: the manifest of a dump (suites/exchange/dump.hpp). It carries every parameter of the
// Case (so the dump is a reproducer without the catalog), the tolerance model the verdict uses,
// and one entry per .npy file saying what it holds and its logical dtype (bf16 arrays are stored
// as '<u2' bit patterns). Layout, with "version" 1:
//
//   {
//     "moecheck_dump": 1,
//     "test": "<suite>.<case name>",
//     "case": { every field of Case; "routing": {"kind": "zipf", "param": 1.2, "seed": 7} },
//     "tolerance": {"alpha": 2.0, "weight_dtype": "bf16", "out_dtype": "bf16", "exact": false,
//                   "poison": 65535},
//     "arrays": { "<file>.npy": {"dtype": "bf16", "npy": "<u2", "shape": [5, 256],
//                                "about": "..."} , ... }
//   }
//
// The reader is strict: an unknown key, a missing key (but case.zeros_include_0, which came
// later within version 1 and reads as false when absent), a value of the wrong JSON type, a number
// out of range, an unknown enum value or a key given twice is an InputError
// "<file>: <key path>: <problem>" (e.g. "case.json: case.top_k: expected an integer, got string").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "case.hpp"
#include "moecheck/reference/tolerance.hpp"

namespace moecheck {

inline constexpr int kDumpVersion = 1;

// Every field of a Case as the "case" object of case.json (also what the coverage report shows
// per case, suites/report).
nlohmann::ordered_json case_to_json(const Case& c);

struct DumpArrayInfo {
  std::string dtype;  // logical: bf16, fp16, int32, uint8, float32, float64
  std::string npy;    // the .npy descr it is stored as
  std::vector<int64_t> shape;
  std::string about;  // what it is, for the person reading the dump
};

struct DumpManifest {
  std::string test;
  Case c;
  Tolerance tolerance;
  uint16_t poison = 0xffff;  // the bit pattern of rows the contract leaves unwritten
  std::map<std::string, DumpArrayInfo> arrays;  // by file name
};

std::string manifest_to_json(const DumpManifest& m);  // pretty-printed, newline-terminated
// `name` (the file) prefixes every error. Throws InputError.
DumpManifest manifest_from_json(const std::string& text, const std::string& name);

}  // namespace moecheck
