#include "ui/assets.hpp"

namespace delta_ui {

const std::string_view kStylesheet = R"css(
:root { color-scheme: light; --ink: #1f2328; --muted: #656d76; --line: #d0d7de; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); }
header { display: flex; align-items: center; gap: 24px; padding: 8px 20px; background: #24292f; color: #fff; }
header a { color: #d0d7de; text-decoration: none; margin-right: 14px; }
header a.active, header a:hover { color: #fff; border-bottom: 2px solid #fd8c73; }
header .right { margin-left: auto; display: flex; gap: 10px; align-items: center; }
header .muted { color: #afb8c1; }
.brand { font-size: 16px; letter-spacing: .5px; }
main { padding: 12px 20px 40px; }
h1 { font-size: 20px; margin: 8px 0 12px; word-break: break-all; }
h2 { font-size: 16px; margin: 22px 0 8px; }
table { border-collapse: collapse; margin: 4px 0 8px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px 4px 0; text-align: left; vertical-align: top; }
th { font-weight: 600; color: var(--muted); }
td.num, th.num { text-align: right; }
td.zero { color: #afb8c1; }
td.id, .id { font-family: ui-monospace, monospace; word-break: break-all; }
td.error { max-width: 360px; color: #a40e26; overflow-wrap: anywhere; }
table.details th { width: 140px; }
pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font: 12px/1.4 ui-monospace, monospace; }
pre.json { background: var(--bg); border: 1px solid var(--line); padding: 8px; max-height: 420px; overflow: auto; }
.muted { color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 130px; background: var(--bg); }
.card .label { display: block; color: var(--muted); font-size: 12px; }
.card .value { font-size: 18px; font-weight: 600; word-break: break-all; }
.charts { display: flex; flex-wrap: wrap; gap: 20px; }
figure { margin: 0; max-width: 740px; }
figcaption { color: var(--muted); font-size: 12px; }
.columns { display: flex; flex-wrap: wrap; gap: 40px; }
.state { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 12px; color: #fff; background: #8c959f; }
.state-synced, .state-completed { background: #2e7d32; }
.state-scheduled, .state-available { background: #1565c0; }
.state-pending, .state-running { background: #6a1b9a; }
.state-failed, .state-retryable { background: #ef6c00; }
.state-degraded, .state-discarded { background: #c62828; }
.state-expired { background: #9e9d24; }
.state-deleted, .state-cancelled { background: #757575; }
.badge { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 12px; background: #fff8c5; color: #6f4e00; border: 1px solid #d4a72c; }
.badge.leader { background: #ddf4ff; color: #0550ae; border-color: #54aeff; }
form.action { display: inline; margin: 0 4px 0 0; }
form.filter { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: flex-end; padding: 8px; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; }
form.filter input[type=text] { width: 140px; }
fieldset.states { border: 0; padding: 0; margin: 0; }
fieldset.states legend { float: left; margin-right: 6px; color: var(--muted); }
fieldset.states label { margin-right: 6px; }
.bulk { margin: 8px 0; display: flex; flex-wrap: wrap; gap: 6px; }
button { font: inherit; padding: 2px 10px; border: 1px solid var(--line); border-radius: 6px; background: #fff; cursor: pointer; }
button:hover { background: var(--bg); }
button.danger { color: #a40e26; border-color: #ff818266; }
button.link { border: 0; background: none; color: #d0d7de; padding: 0; }
.notice { background: #dafbe1; border: 1px solid #4ac26b; padding: 6px 10px; border-radius: 6px; }
.problem { background: #ffebe9; border: 1px solid #ff8182; padding: 6px 10px; border-radius: 6px; }
.pager a { font-weight: 600; }
.tag { display: inline-block; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 0 4px; font-size: 12px; }
main.login { max-width: 420px; margin: 80px auto; }
)css";

const std::string_view kScript = R"js(
(function () {
  'use strict';
  document.addEventListener('submit', function (event) {
    var button = event.submitter || event.target.querySelector('button[data-confirm]');
    var question = button && button.getAttribute('data-confirm');
    if (question && !window.confirm(question)) event.preventDefault();
  });
  var self = document.body.getAttribute('data-self');
  if (self && self !== location.pathname + location.search) history.replaceState(null, '', self);
  var seconds = Number(document.body.getAttribute('data-refresh') || 0);
  if (!(seconds > 0)) return;
  var editing = false;
  var stored = window.localStorage && localStorage.getItem('delta-refresh');
  function box() { return document.getElementById('auto-refresh'); }
  function watch() {
    var toggle = box();
    if (toggle) {
      if (stored === 'off') toggle.checked = false;
      toggle.addEventListener('change', function () {
        stored = toggle.checked ? 'on' : 'off';
        if (window.localStorage) localStorage.setItem('delta-refresh', stored);
      });
    }
    var filter = document.getElementById('filter');
    if (filter) filter.addEventListener('input', function () { editing = true; });
  }
  watch();
  function busy() {
    var active = document.activeElement;
    return editing || (active && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName) && active.type !== 'checkbox');
  }
  function refresh() {
    var toggle = box();
    if ((toggle && !toggle.checked) || document.hidden || busy()) return;
    fetch(self, { credentials: 'same-origin', cache: 'no-store' })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (text) {
        if (!text || busy()) return;
        var fresh = new DOMParser().parseFromString(text, 'text/html').getElementById('content');
        var current = document.getElementById('content');
        if (fresh && current) {
          current.replaceWith(fresh);
          document.body.setAttribute('data-refreshed', String(Date.now()));
        }
      })
      .catch(function () {});
  }
  setInterval(refresh, seconds * 1000);
})();
)js";

}  // namespace delta_ui
