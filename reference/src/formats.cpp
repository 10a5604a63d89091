#include "moecheck/reference/formats.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "moecheck/reference/error.hpp"
#include "moecheck/reference/parallel.hpp"

namespace moecheck {

namespace {

constexpr int kPlainOrder[8] = {0, 1, 2, 3, 4, 5, 6, 7};

[[noreturn]] void fail(const char* what, const std::string& msg) {
  throw InputError(std::string(what) + ": " + msg);
}

void expect_length(const char* what, const char* name, size_t got, int64_t want) {
  if (got != static_cast<size_t>(want)) {
    fail(what, std::string(name) + " has " + std::to_string(got) + " elements, expected " +
                   std::to_string(want));
  }
}

void expect_n_multiple(const char* what, const char* array, int64_t n, int64_t m) {
  if (n % m != 0) {
    fail(what, std::string(array) + " pack " + std::to_string(m) + " values of n per element: N=" +
                   std::to_string(n) + " is not a multiple of " + std::to_string(m));
  }
}

// The int32 arrays are bit containers: build words as uint32 and store the same bits.
int32_t as_int32(uint32_t u) {
  return static_cast<int32_t>(u);
}
uint32_t as_uint32(int32_t i) {
  return static_cast<uint32_t>(i);
}
uint32_t nibble_at(uint32_t word, int p) {
  return (word >> (4 * p)) & 0xFu;
}
uint32_t place_nibble(uint32_t v, int p) {
  return (v & 0xFu) << (4 * p);
}

// GPTQ v1 stores z - 1 mod 16 (see formats.hpp for why stored 15 reads back as z = 0).
uint32_t encode_zero(int z, GptqZeros f) {
  return f == GptqZeros::v1 ? static_cast<uint32_t>(z + 15) & 0xFu : static_cast<uint32_t>(z);
}
uint8_t decode_zero(uint32_t stored, GptqZeros f) {
  return static_cast<uint8_t>(f == GptqZeros::v1 ? (stored + 1) & 0xFu : stored);
}

}  // namespace

const char* to_string(Format f) {
  switch (f) {
    case Format::exllama_nk:
      return "exllama_nk";
    case Format::gptq_kn:
      return "gptq_kn";
    case Format::triton_nk_u8:
      return "triton_nk_u8";
  }
  return "?";
}

Format parse_format(const std::string& s) {
  for (Format f : {Format::exllama_nk, Format::gptq_kn, Format::triton_nk_u8}) {
    if (s == to_string(f)) return f;
  }
  throw std::invalid_argument("unknown weight format '" + s +
                              "' (expected exllama_nk, gptq_kn or triton_nk_u8)");
}

// ---- exllama_nk ------------------------------------------------------------------------------

ExllamaNK pack_exllama_nk(const QuantWeights& w, int64_t kw) {
  const char* what = "pack_exllama_nk";
  validate(w, what);
  const int64_t rows = w.shape.experts * w.shape.n, k = w.shape.k, groups = w.shape.groups();
  if (kw == 0) kw = k / 8;
  if (kw < k / 8) {
    fail(what,
         "row stride kw=" + std::to_string(kw) + " is less than K/8=" + std::to_string(k / 8));
  }
  if (kw > std::numeric_limits<int64_t>::max() / rows) fail(what, "E*N*kw overflows int64");
  if (!w.symmetric) expect_n_multiple(what, "zeros", w.shape.n, 8);

  ExllamaNK p;
  p.kw = kw;
  p.qweight.assign(static_cast<size_t>(rows * kw), 0);  // padding words stay zero
  parallel_for(rows, [&](int64_t r, int) {
    const uint8_t* q = &w.q[r * k];
    for (int64_t j = 0; j < k / 8; ++j) {
      uint32_t word = 0;
      for (int nib = 0; nib < 8; ++nib) word |= place_nibble(q[8 * j + kShuffledOrder[nib]], nib);
      p.qweight[r * kw + j] = as_int32(word);
    }
  });
  p.scales = w.scale;  // same [E, N, K/G] layout as the logical form
  if (!w.symmetric) {
    // Flat row r = e*N + n; with N % 8 == 0, word (e, n/8) is row r/8 of [E*N/8, K/G].
    p.zeros.assign(static_cast<size_t>(rows / 8 * groups), 0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        uint32_t word = as_uint32(p.zeros[(r / 8) * groups + g]);
        word |= place_nibble(w.zero[r * groups + g], static_cast<int>(r % 8));
        p.zeros[(r / 8) * groups + g] = as_int32(word);
      }
    }
  }
  return p;
}

QuantWeights unpack_exllama_nk(const ExllamaNK& p, const WeightShape& s, DType dtype) {
  const char* what = "unpack_exllama_nk";
  validate(s, what);
  const int64_t rows = s.experts * s.n, k = s.k, groups = s.groups();
  if (p.kw < k / 8) {
    fail(what,
         "row stride kw=" + std::to_string(p.kw) + " is less than K/8=" + std::to_string(k / 8));
  }
  if (p.kw > std::numeric_limits<int64_t>::max() / rows) fail(what, "E*N*kw overflows int64");
  expect_length(what, "qweight", p.qweight.size(), rows * p.kw);
  expect_length(what, "scales", p.scales.size(), rows * groups);
  const bool symmetric = p.zeros.empty();
  if (!symmetric) {
    expect_n_multiple(what, "zeros", s.n, 8);
    expect_length(what, "zeros", p.zeros.size(), rows / 8 * groups);
  }

  QuantWeights w = QuantWeights::zeros_like(s, dtype, symmetric);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < p.kw; ++j) {
      const uint32_t word = as_uint32(p.qweight[r * p.kw + j]);
      if (j >= k / 8) {
        // pack writes zero padding; anything else is not in its image.
        if (word != 0) {
          fail(what, "padding word " + std::to_string(j) + " of row " + std::to_string(r) +
                         " (e*N+n) is nonzero");
        }
        continue;
      }
      for (int nib = 0; nib < 8; ++nib) {
        w.q[r * k + 8 * j + kShuffledOrder[nib]] = static_cast<uint8_t>(nibble_at(word, nib));
      }
    }
  }
  w.scale = p.scales;
  if (!symmetric) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        const uint32_t word = as_uint32(p.zeros[(r / 8) * groups + g]);
        w.zero[r * groups + g] = static_cast<uint8_t>(nibble_at(word, static_cast<int>(r % 8)));
      }
    }
  }
  return w;
}

// ---- gptq_kn ---------------------------------------------------------------------------------

GptqKN pack_gptq_kn(const QuantWeights& w, bool shuffled, GptqZeros zero_format) {
  const char* what = "pack_gptq_kn";
  validate(w, what);
  expect_n_multiple(what, "zeros", w.shape.n, 8);
  const int64_t e_count = w.shape.experts, n = w.shape.n, k = w.shape.k, groups = w.shape.groups();
  const int* order = shuffled ? kShuffledOrder : kPlainOrder;

  GptqKN p;
  p.shuffled = shuffled;
  p.zero_format = zero_format;
  p.qweight.assign(static_cast<size_t>(e_count * (k / 8) * n), 0);
  p.scales.assign(static_cast<size_t>(e_count * groups * n), 0);
  p.zeros.assign(static_cast<size_t>(e_count * groups * (n / 8)), 0);
  // A job packs kColumns columns of one expert (whole zero words, as n % 8 == 0), writing runs
  // of consecutive words of each packed row.
  constexpr int64_t kColumns = 64;
  const int64_t blocks = (n + kColumns - 1) / kColumns;
  parallel_for(e_count * blocks, [&](int64_t job, int) {
    const int64_t e = job / blocks, c0 = job % blocks * kColumns, c1 = std::min(n, c0 + kColumns);
    for (int64_t j = 0; j < k / 8; ++j) {
      for (int64_t c = c0; c < c1; ++c) {
        const uint8_t* q = &w.q[w.q_index(e, c, 8 * j)];
        uint32_t word = 0;
        for (int nib = 0; nib < 8; ++nib) word |= place_nibble(q[order[nib]], nib);
        p.qweight[(e * (k / 8) + j) * n + c] = as_int32(word);
      }
    }
    for (int64_t g = 0; g < groups; ++g) {
      for (int64_t c = c0; c < c1; ++c) {
        p.scales[(e * groups + g) * n + c] = w.scale[w.g_index(e, c, g)];
        const int64_t zi = (e * groups + g) * (n / 8) + c / 8;
        p.zeros[zi] = as_int32(as_uint32(p.zeros[zi]) |
                               place_nibble(encode_zero(w.zero[w.g_index(e, c, g)], zero_format),
                                            static_cast<int>(c % 8)));
      }
    }
  });
  return p;
}

QuantWeights unpack_gptq_kn(const GptqKN& p, const WeightShape& s, DType dtype, bool symmetric) {
  const char* what = "unpack_gptq_kn";
  validate(s, what);
  expect_n_multiple(what, "zeros", s.n, 8);
  const int64_t e_count = s.experts, n = s.n, k = s.k, groups = s.groups();
  expect_length(what, "qweight", p.qweight.size(), e_count * (k / 8) * n);
  expect_length(what, "scales", p.scales.size(), e_count * groups * n);
  expect_length(what, "zeros", p.zeros.size(), e_count * groups * (n / 8));
  const int* order = p.shuffled ? kShuffledOrder : kPlainOrder;

  QuantWeights w = QuantWeights::zeros_like(s, dtype, symmetric);
  for (int64_t e = 0; e < e_count; ++e) {
    for (int64_t c = 0; c < n; ++c) {
      uint8_t* q = &w.q[w.q_index(e, c, 0)];
      for (int64_t j = 0; j < k / 8; ++j) {
        const uint32_t word = as_uint32(p.qweight[(e * (k / 8) + j) * n + c]);
        for (int nib = 0; nib < 8; ++nib) {
          q[8 * j + order[nib]] = static_cast<uint8_t>(nibble_at(word, nib));
        }
      }
      for (int64_t g = 0; g < groups; ++g) {
        w.scale[w.g_index(e, c, g)] = p.scales[(e * groups + g) * n + c];
        const uint32_t word = as_uint32(p.zeros[(e * groups + g) * (n / 8) + c / 8]);
        const uint8_t z = decode_zero(nibble_at(word, static_cast<int>(c % 8)), p.zero_format);
        if (symmetric && z != 8) {
          fail(what, "weights labelled symmetric but the zero of (e=" + std::to_string(e) +
                         ", n=" + std::to_string(c) + ", g=" + std::to_string(g) + ") is " +
                         std::to_string(z) + " (expected 8)");
        }
        w.zero[w.g_index(e, c, g)] = z;
      }
    }
  }
  return w;
}

// ---- triton_nk_u8 ----------------------------------------------------------------------------

TritonNKU8 pack_triton_nk_u8(const QuantWeights& w) {
  const char* what = "pack_triton_nk_u8";
  validate(w, what);
  if (!w.symmetric) expect_n_multiple(what, "zeros", w.shape.n, 2);
  const int64_t rows = w.shape.experts * w.shape.n, k = w.shape.k, groups = w.shape.groups();

  TritonNKU8 p;
  p.qweight.resize(static_cast<size_t>(rows * (k / 2)));
  for (int64_t i = 0; i < rows * (k / 2); ++i) {
    p.qweight[i] = static_cast<uint8_t>(w.q[2 * i] | (w.q[2 * i + 1] << 4));
  }
  p.scales = w.scale;
  if (!w.symmetric) {
    // Flat row r = e*N + n; with N even, byte (e, n/2) is row r/2 of [E*N/2, K/G].
    p.zeros.assign(static_cast<size_t>(rows / 2 * groups), 0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        p.zeros[(r / 2) * groups + g] |=
            static_cast<uint8_t>(w.zero[r * groups + g] << (4 * (r % 2)));
      }
    }
  }
  return p;
}

QuantWeights unpack_triton_nk_u8(const TritonNKU8& p, const WeightShape& s, DType dtype) {
  const char* what = "unpack_triton_nk_u8";
  validate(s, what);
  const int64_t rows = s.experts * s.n, k = s.k, groups = s.groups();
  expect_length(what, "qweight", p.qweight.size(), rows * (k / 2));
  expect_length(what, "scales", p.scales.size(), rows * groups);
  const bool symmetric = p.zeros.empty();
  if (!symmetric) {
    expect_n_multiple(what, "zeros", s.n, 2);
    expect_length(what, "zeros", p.zeros.size(), rows / 2 * groups);
  }

  QuantWeights w = QuantWeights::zeros_like(s, dtype, symmetric);
  for (int64_t i = 0; i < rows * (k / 2); ++i) {
    w.q[2 * i] = p.qweight[i] & 0xFu;
    w.q[2 * i + 1] = p.qweight[i] >> 4;
  }
  w.scale = p.scales;
  if (!symmetric) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        w.zero[r * groups + g] = (p.zeros[(r / 2) * groups + g] >> (4 * (r % 2))) & 0xFu;
      }
    }
  }
  return w;
}

}  // namespace moecheck
