/**
 * The dashboard page: one self-contained HTML document that polls the cluster JSON. No build
 * step and no external assets, so it works on a machine with no network.
 */
export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Shoal cluster</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1b2430; background: #f6f8fa; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  .sub { color: #5b6675; margin-bottom: 1rem; }
  table { border-collapse: collapse; width: 100%; background: #fff; box-shadow: 0 1px 2px #0001; }
  th, td { text-align: left; padding: .45rem .7rem; border-bottom: 1px solid #e4e8ee; vertical-align: top; }
  th { background: #eef2f6; font-weight: 600; }
  .healthy { color: #137333; font-weight: 600; }
  .draining { color: #b06000; font-weight: 600; }
  .down, .unknown { color: #c5221f; font-weight: 600; }
  code { font-size: 12px; }
</style>
</head>
<body>
<h1>Shoal cluster</h1>
<div class="sub" id="summary">loading…</div>
<table>
  <thead><tr><th>id</th><th>role</th><th>pid</th><th>address</th><th>health</th><th>up</th><th>services</th></tr></thead>
  <tbody id="members"></tbody>
</table>
<script>
function uptime(ms) {
  const s = Math.floor(ms / 1000);
  return s < 60 ? s + 's' : s < 3600 ? Math.floor(s / 60) + 'm' : Math.floor(s / 3600) + 'h' + Math.floor((s % 3600) / 60) + 'm';
}
function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}
async function refresh() {
  try {
    const res = await fetch('/dashboard/cluster.json');
    const view = await res.json();
    const body = document.getElementById('members');
    body.replaceChildren();
    for (const m of view.members) {
      const tr = document.createElement('tr');
      tr.append(cell(m.id), cell(m.role), cell(String(m.pid)), cell(m.address || m.url), cell(m.health, m.health),
        cell(uptime(m.uptimeMs)), cell(m.services.join(', ')));
      body.append(tr);
    }
    const nodes = view.members.filter((m) => m.role === 'node').length;
    document.getElementById('summary').textContent =
      nodes + ' node(s), ' + (view.members.length - nodes) + ' other process(es) — updated ' + new Date().toLocaleTimeString();
  } catch (err) {
    document.getElementById('summary').textContent = 'control plane unreachable: ' + err;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
