// coverage.html: one self-contained page (inline CSS and JS, the data embedded as JSON; it loads
// nothing and links nowhere, so it works as a CI artifact opened from disk). The heatmap tables
// are rendered here, in C++, so they show without JS; the script only fills the details panel
// when a cell is clicked (or named in the URL: coverage.html#cell=<heatmap>:<cell>), and sets
// body[data-ready] to the number of heatmap cells once it ran (ci/check-report-in-browser checks
// both in headless Chromium).
//
// Colours. A pass cell's margin (worst |error| / bound, 0..1) picks one of ten fixed colours, green
// (0) to orange (1), in bins of 0.1: fixed colours, so a screenshot can be checked pixel-exact.
// Every other state has its own colour AND its own mark, so it reads in grey-scale too: failed
// (red, "x" and the margin), known bug (purple, "KB"), passed without a margin (pale green, "ok"),
// not supported (blue, "NS"), skipped (grey stripes, "S"), not run (white, dashed border, "NR").
// A (row, column) pair with no case is an empty light cell.
//
// URLs in the data (known-bug issues) are shown as text, their "/" escaped, so the page holds no
// "http://" or "https://" at all.
#include <fmt/format.h>

#include <array>

#include "coverage.hpp"

namespace moecheck::report {

namespace {

// Bin i holds margins in [i / 10, (i + 1) / 10); a margin of exactly 1 is in bin 9.
constexpr std::array<const char*, 10> kPassBins = {"#1a9850", "#3fa552", "#66b454", "#8cc257",
                                                   "#b0d05c", "#d2dc62", "#ecd95f", "#f4bf55",
                                                   "#f4a14b", "#ee7f40"};

struct StateStyle {
  CellState state;
  const char* css;  // class name
  const char* colour;
  const char* mark;
  const char* label;
};
constexpr std::array<StateStyle, 6> kStates = {{
    {CellState::failed, "failed", "#c62828", "x", "failed (Incorrect or Failed; margin > 1)"},
    {CellState::known_bug, "known_bug", "#7b3294", "KB", "known bug (cases/known_bugs.yaml)"},
    {CellState::pass_nomargin, "pass_nomargin", "#c7e9c0", "ok", "passed, no margin reported"},
    {CellState::not_supported, "not_supported", "#4575b4", "NS", "not supported (expected)"},
    {CellState::skipped, "skipped", "#9e9e9e", "S", "skipped (no device, wrong arch, ...)"},
    {CellState::not_run, "not_run", "#ffffff", "NR", "not run (disabled)"},
}};

const StateStyle& style(CellState s) {
  for (const StateStyle& st : kStates) {
    if (st.state == s) return st;
  }
  return kStates[0];
}

int bin(double margin) {
  const int b = static_cast<int>(margin * 10);
  return b < 0 ? 0 : (b > 9 ? 9 : b);
}

// Text for HTML content and attribute values; '/' escaped so no URL survives literally.
std::string esc(const std::string& s) {
  std::string o;
  for (const char ch : s) {
    switch (ch) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      case '/':
        o += "&#47;";
        break;
      default:
        o += ch;
    }
  }
  return o;
}

// JSON inside <script type="application/json">: every '/' as "\/" (valid JSON) so neither
// "</script>" nor "://" can appear.
std::string embedded_json(const Coverage& cov) {
  const std::string j = to_json(cov).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string o;
  o.reserve(j.size() + j.size() / 16);
  for (const char ch : j) {
    if (ch == '/') o += '\\';
    o += ch;
  }
  return o;
}

std::string margin_text(double m) {
  return m >= 1e4 ? fmt::format("{:.0e}", m) : fmt::format("{:.2f}", m);
}

std::string cell_html(const Coverage& cov, const HeatCell& c, int map, int index) {
  std::map<std::string, int> n;
  for (const int k : c.cases) ++n[to_string(cov.cases[k].outcome)];
  std::string title = fmt::format("{} case{}:", c.cases.size(), c.cases.size() == 1 ? "" : "s");
  for (const auto& [o, count] : n) title += fmt::format(" {} {},", count, o);
  title.pop_back();
  if (c.margin) title += fmt::format("; worst margin {:.4g}", *c.margin);
  std::string cls, mark;
  if (c.state == CellState::pass) {
    cls = fmt::format("pass b{}", bin(*c.margin));
    mark = margin_text(*c.margin);
  } else {
    const StateStyle& st = style(c.state);
    cls = st.css;
    mark = st.mark;
    if (c.state == CellState::failed && c.margin && *c.margin > 1) {
      mark += " " + margin_text(*c.margin);
    }
  }
  return fmt::format("<td class=\"c {}\" data-cell=\"{}:{}\" title=\"{}\" tabindex=\"0\">{}</td>",
                     cls, map, index, esc(title), esc(mark));
}

std::string heatmap_html(const Coverage& cov, const Heatmap& h, int map) {
  std::string s = fmt::format(
      "<section class=\"map\" id=\"map-{}\" data-kernel=\"{}\" data-stage=\"{}\" "
      "data-arch=\"{}\">\n<h2>{} <span>{}</span> <span>{}</span></h2>\n"
      "<table class=\"heat\"><thead><tr><th class=\"corner\">shape \\ T, routing</th>",
      map, esc(h.kernel), esc(h.stage), esc(h.arch), esc(h.kernel), esc(h.stage), esc(h.arch));
  for (const std::string& col : h.columns) s += "<th class=\"col\">" + esc(col) + "</th>";
  s += "</tr></thead>\n<tbody>\n";
  std::vector<int> at(h.rows.size() * h.columns.size(), -1);
  for (int i = 0; i < static_cast<int>(h.cells.size()); ++i) {
    at[h.cells[i].row * h.columns.size() + h.cells[i].column] = i;
  }
  for (size_t r = 0; r < h.rows.size(); ++r) {
    s += "<tr><th class=\"row\">" + esc(h.rows[r]) + "</th>";
    for (size_t c = 0; c < h.columns.size(); ++c) {
      const int i = at[r * h.columns.size() + c];
      s += i < 0 ? "<td class=\"c empty\"></td>" : cell_html(cov, h.cells[i], map, i);
    }
    s += "</tr>\n";
  }
  return s + "</tbody></table>\n</section>\n";
}

std::string css() {
  std::string s = R"(
body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{padding:10px 16px;background:#263238;color:#eceff1}
header h1{font-size:18px;margin:0 0 4px}
header p{margin:2px 0}
#legend{display:flex;flex-wrap:wrap;gap:4px 14px;padding:8px 16px;border-bottom:1px solid #ddd;background:#fff}
#legend .sw{display:inline-block;width:14px;height:14px;vertical-align:middle;margin-right:4px;border:1px solid #888;font-size:9px;text-align:center;line-height:14px}
#legend .scale .sw{margin-right:0;border-right:0}
#layout{display:flex;align-items:flex-start;gap:12px;padding:12px 16px}
#maps{flex:1;display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start;min-width:0}
.map{background:#fff;border:1px solid #ddd;padding:6px 8px;max-width:100%;overflow-x:auto}
.map h2{font-size:14px;margin:0 0 6px}
.map h2 span{font-weight:normal;color:#555;margin-left:6px}
table.heat{border-collapse:separate;border-spacing:2px}
table.heat th{font-weight:normal;font-size:11px;color:#444;white-space:nowrap}
table.heat th.row{text-align:right;padding-right:4px}
table.heat th.col{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;padding:2px 0}
table.heat th.corner{font-size:10px;color:#888;text-align:left;vertical-align:bottom}
td.c{min-width:48px;height:26px;text-align:center;font-size:11px;cursor:pointer;border:1px solid transparent;padding:0 3px}
td.c.empty{background:#f0f0f0;cursor:default}
td.c:focus,td.c.sel{outline:3px solid #1565c0;outline-offset:-1px}
td.pass{color:#102010}
td.failed,td.known_bug,td.not_supported{color:#fff;font-weight:bold}
td.pass_nomargin{color:#1b5e20}
td.skipped{color:#222;font-weight:bold;background-image:repeating-linear-gradient(45deg,#9e9e9e 0 8px,#c8c8c8 8px 12px)}
td.not_run{border:1px dashed #555;color:#555}
#details{width:440px;flex:none;position:sticky;top:8px;max-height:calc(100vh - 16px);overflow:auto;background:#fff;border:1px solid #ddd;padding:8px 10px}
#details h3{font-size:13px;margin:10px 0 4px;word-break:break-all}
#details table{border-collapse:collapse;font-size:11px;width:100%}
#details td,#details th{border-bottom:1px solid #eee;padding:1px 4px;text-align:left;vertical-align:top}
.badge{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;font-size:11px}
.hist{margin:2px 0 6px}
.hist svg{background:#f7f7f7;border:1px solid #e0e0e0}
footer{padding:8px 16px;color:#666}
)";
  for (size_t i = 0; i < kPassBins.size(); ++i) {
    s += fmt::format("td.b{0},.sw.b{0}{{background:{1}}}\n", i, kPassBins[i]);
  }
  for (const StateStyle& st : kStates) {
    if (st.state == CellState::skipped) {
      s += fmt::format(".sw.{0}{{background:{1}}}\n", st.css, st.colour);
      s += fmt::format("td.{0}{{background-color:{1}}}\n", st.css, st.colour);
    } else {
      s += fmt::format("td.{0},.sw.{0}{{background:{1}}}\n", st.css, st.colour);
    }
  }
  return s;
}

std::string legend() {
  std::string s = "<section id=\"legend\"><span class=\"scale\">margin ";
  for (size_t i = 0; i < kPassBins.size(); ++i) {
    s += fmt::format("<span class=\"sw b{}\" title=\"margin {:.1f} to {:.1f}\"></span>", i,
                     i / 10.0, (i + 1) / 10.0);
  }
  s += " 0 &rarr; 1 (passed: worst |error| &#47; bound)</span>";
  for (const StateStyle& st : kStates) {
    s += fmt::format("<span><span class=\"sw {}\">{}</span>{}</span>", st.css,
                     st.state == CellState::failed ? "x" : "", esc(st.label));
  }
  s += "<span><span class=\"sw\" style=\"background:#f0f0f0\"></span>no case</span>";
  return s + "</section>\n";
}

// The details panel: cases of the clicked cell, with parameters, stages, routing histograms.
const char* kScript = R"JS(
(function () {
  var data = JSON.parse(document.getElementById('coverage-data').textContent);
  var panel = document.getElementById('details');
  var colours = JSON.parse(document.getElementById('coverage-colours').textContent);
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fmt(v) {
    if (v === null || v === undefined) return '-';
    if (typeof v === 'number') return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : String(Math.round(v * 10000) / 10000);
    return String(v);
  }
  function table(rows) {
    var t = el('table');
    rows.forEach(function (r) {
      var tr = el('tr');
      r.forEach(function (x, i) { tr.appendChild(el(i === 0 ? 'th' : 'td', fmt(x))); });
      t.appendChild(tr);
    });
    return t;
  }
  function bars(title, values, colour) {
    var box = el('div', null, 'hist');
    var max = Math.max.apply(null, values.concat([1]));
    var w = 400, h = 56, bw = values.length ? w / values.length : w;
    var svg = '<svg width="' + w + '" height="' + (h + 2) + '" role="img">';
    values.forEach(function (v, i) {
      var bh = Math.round(h * v / max);
      svg += '<rect x="' + (i * bw).toFixed(2) + '" y="' + (h - bh + 1) + '" width="' +
             Math.max(bw - (bw > 3 ? 1 : 0), 0.5).toFixed(2) + '" height="' + bh + '" fill="' + colour +
             '"><title>expert ' + i + ': ' + v + '</title></rect>';
    });
    box.appendChild(el('div', title + ' (max ' + max + ', ' + values.length + ' experts)'));
    var holder = el('div');
    holder.innerHTML = svg + '</svg>';
    box.appendChild(holder);
    return box;
  }
  function show(td) {
    var sel = document.querySelector('td.sel');
    if (sel) sel.classList.remove('sel');
    td.classList.add('sel');
    var at = td.getAttribute('data-cell').split(':');
    var map = data.heatmaps[+at[0]], cell = map.cells[+at[1]];
    panel.textContent = '';
    panel.appendChild(el('h3', map.kernel + ' / ' + map.stage + ' / ' + map.arch + ': ' +
      map.rows[cell.row] + ', ' + map.columns[cell.column]));
    panel.appendChild(el('div', cell.cases.length + ' case(s), cell ' + cell.state +
      (cell.margin !== null ? ', worst margin ' + fmt(cell.margin) : '')));
    cell.cases.forEach(function (k) {
      var c = data.cases[k];
      var h = el('h3', c.test);
      var b = el('span', c.outcome, 'badge');
      b.style.background = colours[c.outcome] || '#555';
      h.appendChild(document.createTextNode(' '));
      h.appendChild(b);
      panel.appendChild(h);
      if (c.reason) panel.appendChild(el('div', c.reason));
      panel.appendChild(table([['margin', c.margin], ['rel L1', c.rel_l1]]));
      if (c.stages.length) {
        var rows = [['stage', 'outcome', 'margin', 'rel L1', 'compared']];
        c.stages.forEach(function (s) { rows.push([s.stage, s.outcome, s.margin, s.rel_l1, s.compared]); });
        panel.appendChild(table(rows));
      }
      var r = c.routing;
      if (r.error) {
        panel.appendChild(el('div', 'routing: ' + r.error));
      } else {
        panel.appendChild(table([['routes', r.routes], ['routed (local experts)', r.routed],
          ['used experts', r.used_experts], ['valid blocks', r.valid_blocks + ' of ' + r.blocks]]));
        panel.appendChild(bars('routes per expert', r.routes_per_expert, '#1565c0'));
        panel.appendChild(bars('padded slots per expert', r.padded_per_expert, '#ef6c00'));
      }
      var p = [];
      Object.keys(c.params).forEach(function (key) { p.push([key, c.params[key]]); });
      panel.appendChild(table(p));
    });
  }
  var cells = document.querySelectorAll('td[data-cell]');
  Array.prototype.forEach.call(cells, function (td) {
    td.addEventListener('click', function () { show(td); });
    td.addEventListener('keydown', function (e) { if (e.key === 'Enter') show(td); });
  });
  // coverage.html#cell=H:K opens that cell's details on load (a link to a cell; the browser
  // check's screenshot of the panel).
  var m = /^#cell=(\d+:\d+)$/.exec(location.hash);
  if (m) {
    var target = document.querySelector('td[data-cell="' + m[1] + '"]');
    if (target) show(target);
  }
  document.body.dataset.ready = String(cells.length);
})();
)JS";

// Badge colours per outcome in the details panel.
std::string outcome_colours() {
  return R"({"Passed":"#1a9850","Incorrect":"#c62828","Failed":"#c62828","NotSupported":"#4575b4",)"
         R"("Skipped":"#757575","KnownBug":"#7b3294","NotRun":"#555555"})";
}

}  // namespace

std::string coverage_html(const Coverage& cov) {
  std::string s =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>moecheck coverage: " +
      esc(cov.device) + " (" + esc(cov.arch) + ")</title>\n<style>" + css() +
      "</style>\n</head>\n<body>\n";
  const auto totals = cov.totals();
  std::string line;
  for (const CaseOutcome o : all_outcomes()) {
    const int64_t n = totals.at(to_string(o));
    if (n > 0) line += fmt::format("{}{} {}", line.empty() ? "" : ", ", n, to_string(o));
  }
  s += fmt::format(
      "<header><h1>moecheck shape coverage</h1><p>device {} ({}){}{}</p>"
      "<p><b>{} cases</b>{}{}; {} heatmap cells; {} other tests</p></header>\n",
      esc(cov.device), esc(cov.arch),
      cov.implementation.empty() ? "" : ", implementation " + esc(cov.implementation),
      cov.labels.empty() ? "" : ", labels " + esc(cov.labels), cov.cases.size(),
      line.empty() ? "" : ": ", esc(line), cov.cell_count(), cov.other_tests.size());
  s += legend();
  s += "<div id=\"layout\">\n<div id=\"maps\">\n";
  if (cov.heatmaps.empty()) s += "<p>No catalog case in this run.</p>\n";
  for (int i = 0; i < static_cast<int>(cov.heatmaps.size()); ++i) {
    s += heatmap_html(cov, cov.heatmaps[i], i);
  }
  s += "</div>\n<aside id=\"details\"><p>Click a cell to see its cases: every parameter, the "
       "routes and padded slots per expert, valid blocks, routed count, margin and relative L1 "
       "error per stage.</p><noscript>(needs JavaScript; the heatmaps above do not)</noscript>"
       "</aside>\n</div>\n";
  if (!cov.other_tests.empty()) {
    s += fmt::format("<footer><details><summary>{} other tests (not catalog cases)</summary><ul>",
                     cov.other_tests.size());
    for (const OtherTest& t : cov.other_tests) {
      s += "<li>" + esc(t.name) + ": " + to_string(t.outcome) + "</li>";
    }
    s += "</ul></details></footer>\n";
  }
  s += "<script type=\"application/json\" id=\"coverage-data\">" + embedded_json(cov) +
       "</script>\n<script type=\"application/json\" id=\"coverage-colours\">" + outcome_colours() +
       "</script>\n";
  // The palette, for checks of a screenshot (ci/check-report-in-browser).
  nlohmann::ordered_json palette;
  palette["pass_bins"] = std::vector<std::string>(kPassBins.begin(), kPassBins.end());
  for (const StateStyle& st : kStates) palette[st.css] = st.colour;
  s += "<script type=\"application/json\" id=\"coverage-palette\">" + palette.dump() +
       "</script>\n<script>" + kScript + "</script>\n</body>\n</html>\n";
  return s;
}

}  // namespace moecheck::report
