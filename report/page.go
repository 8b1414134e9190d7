package report

// pageHTML is report.html: inline CSS, inline SVG, a few lines of inline
// script for the evidence filter, nothing fetched.
const pageHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>splinter — {{.Scenario}}</title>
<style>
:root{--ink:#1f2430;--mute:#687083;--line:#e3e6ec;--bg:#f7f8fa;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#1f2430;color:#fff;padding:28px 40px 22px}
header h1{margin:0;font-size:26px;font-weight:650;letter-spacing:.2px}
header p{margin:6px 0 0;color:#c5cad6;max-width:980px}
.stats{display:flex;gap:14px;margin-top:18px;flex-wrap:wrap}
.stat{background:#2b3140;border-radius:8px;padding:10px 16px;min-width:130px}
.stat b{display:block;font-size:22px;font-weight:650}
.stat span{color:#aab1c0;font-size:12px;text-transform:uppercase;letter-spacing:.6px}
main{padding:24px 40px 60px;max-width:1500px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:20px 24px;margin-bottom:22px}
h2{margin:0 0 4px;font-size:18px}
.sub{color:var(--mute);margin:0 0 14px}
svg text{font-family:inherit}
table{border-collapse:collapse}
th,td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:right}
th:first-child,td:first-child{text-align:left}
th{font-weight:600;color:var(--mute);font-size:12px;text-transform:uppercase;letter-spacing:.4px}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600;white-space:nowrap}
.legend{display:flex;gap:12px;flex-wrap:wrap;margin:6px 0 12px}
.legend span{display:inline-flex;align-items:center;gap:5px;font-size:12px;color:var(--mute)}
.legend i{width:12px;height:12px;border-radius:3px;display:inline-block}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(380px,100%),1fr));gap:22px}
.matrix td{text-align:center;min-width:64px;border:1px solid var(--line)}
.matrix th{text-align:center}
.matrix th.row{text-align:right}
.rules{color:var(--mute);font-size:12px;margin:2px 0 10px 0}
details{border-bottom:1px solid var(--line);padding:6px 0}
details summary{cursor:pointer;list-style:none;display:flex;gap:10px;align-items:center}
details summary::-webkit-details-marker{display:none}
summary .dom{font-weight:600;min-width:290px}
summary .van{color:var(--mute);min-width:170px}
summary .why{color:var(--mute);font-size:12px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;max-width:620px}
.flag{color:#c92a2a;font-weight:700}
ol.chain{margin:8px 0 6px 0;padding-left:22px;font:12px/1.6 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
ol.chain li.bad{color:#a61e4d}
ol.chain li .k{display:inline-block;width:52px;color:var(--mute);text-transform:uppercase}
ol.chain li.border .k{color:#c92a2a;font-weight:700}
#q{padding:7px 10px;border:1px solid var(--line);border-radius:6px;width:360px;max-width:100%;font:inherit;margin-bottom:10px}
.dis li{margin-bottom:6px}
footer{color:var(--mute);font-size:12px;padding:0 40px 30px}
.scroll{overflow-x:auto;max-width:100%}
.mrow{display:flex;flex-wrap:wrap;align-items:center;gap:6px 12px;margin-top:10px}
.mrow .who{width:220px;flex:none}
.bars{display:flex;flex:1 1 300px;max-width:640px;height:20px;border-radius:3px;overflow:hidden}
.bars span{display:block;height:20px;color:#fff;font-size:11px;line-height:20px;text-align:center;overflow:hidden;white-space:nowrap}
.mpills{font-size:12px;flex-basis:100%;padding-left:232px}
ul.cites{list-style:none;margin:4px 0 12px 232px;padding:0;font-size:12px}
ul.cites li{margin:3px 0;color:var(--ink)}
ul.cites .what{color:var(--mute)}
ul.cites cite{color:var(--mute);font-style:normal}
ul.cites cite::before{content:"— "}
dl.gl{display:grid;grid-template-columns:max-content 1fr;gap:6px 14px;margin:8px 0 16px}
dl.gl dt{font-weight:600}
dl.gl dd{margin:0;color:var(--ink)}
h3{font-size:15px;margin:16px 0 4px}
ol.chain li{overflow-wrap:anywhere}
summary .why{min-width:0}
@media (max-width:700px){
header{padding:18px 14px 14px}
header h1{font-size:21px}
main{padding:12px 8px 40px}
section{padding:14px 12px;border-radius:8px}
footer{padding:0 14px 20px}
.stat{min-width:0;flex:1 1 40%;padding:8px 10px}
.mrow .who{width:100%}
.mpills{padding-left:0}
ul.cites{margin-left:0}
summary{flex-wrap:wrap}
summary .dom,summary .van{min-width:0}
summary .why{white-space:normal;max-width:100%}
#q{width:100%}
dl.gl{grid-template-columns:1fr}
dl.gl dd{margin-bottom:6px}
}
</style></head><body>
<header>
<h1>splinter · {{.Scenario}}</h1>
<p>{{.Description}}</p>
{{template "date" .}}
{{if .Interrupted}}<p style="color:#ffd8a8;font-weight:600">This run was interrupted: it made {{.Score.Total}} of its {{.Planned}} measurements, and this report covers those.</p>{{end}}
<div class="stats">
<div class="stat"><b>{{.Score.Total}}</b><span>measurements</span></div>
<div class="stat"><b>{{.NBlocked}}</b><span>found blocked</span></div>
<div class="stat"><b>{{.Accuracy}}</b><span>agree with the borders</span></div>
<div class="stat"><b>{{.NDecided}}</b><span>border decisions</span></div>
{{if .Elapsed}}<div class="stat"><b>{{.Elapsed}}</b><span>to measure</span></div>{{end}}
</div>
</header>
<main>
{{template "timeline" .}}
<section>
<h2>Reachability by jurisdiction and category</h2>
<p class="sub">Share of the test list reachable from inside each jurisdiction (web_connectivity, all vantages). Hover a square for the sites blocked there.</p>
<svg width="{{.HeatWidth}}" height="{{.HeatHeight}}" viewBox="0 0 {{.HeatWidth}} {{.HeatHeight}}" style="max-width:100%;height:auto" role="img" aria-label="heatmap">
{{range $i, $c := .Categories}}<text x="{{add (add 150 (mul38 $i)) 19}}" y="62" font-size="11" text-anchor="start" transform="rotate(-45 {{add (add 150 (mul38 $i)) 19}} 62)" fill="#687083">{{$c.Code}}</text>
{{end}}
{{range $ji, $row := .Heat}}{{$j := index $.Jurisdictions $ji}}<text x="140" y="{{add (add 70 (mul30 $ji)) 19}}" font-size="13" text-anchor="end" fill="#1f2430"><tspan font-weight="600">{{$j.Code}}</tspan> <tspan fill="#687083" font-size="11">{{$j.Name}}</tspan></text>
{{range $row}}<g><rect x="{{.X}}" y="{{.Y}}" width="36" height="28" rx="4" fill="{{.Color}}"/>{{if .Label}}<text x="{{add .X 18}}" y="{{add .Y 18}}" font-size="11" text-anchor="middle" fill="{{if .Dark}}#1f2430{{else}}#fff{{end}}" font-weight="600">{{.Label}}</text><title>{{.Tip}}</title>{{end}}</g>
{{end}}{{end}}
</svg>
</section>

<section>
<h2>How each jurisdiction blocks</h2>
<p class="sub">Measured verdicts per jurisdiction, and the border rules whose decisions touched those measurements, each with what it models, the study it is modelled on and the year the behaviour was observed. The <a href="#glossary">glossary</a> says what each verdict and method means.</p>
<div class="legend">{{range .Legend}}<span><i style="background:{{.Color}}"></i>{{.Verdict}}</span>{{end}}</div>
{{range .Methods}}
<div class="mrow">
<div class="who"><b>{{.Code}}</b> <span style="color:#687083">{{.Name}}</span><br><span style="color:#687083;font-size:11px">{{.Vantages}}</span></div>
<div class="bars">{{range .Bars}}<span style="width:{{f1 (barpct .W)}}%;background:{{.Color}}" title="{{.Verdict}}: {{.N}}">{{if gt .W 26.0}}{{.N}}{{end}}</span>{{end}}</div>
<div class="mpills">{{range .Bars}}{{if ne .Verdict "accessible"}}<span class="pill" style="background:{{.Color}}">{{.Verdict}} {{.N}}</span> {{end}}{{end}}{{if .Behind}}<br><span style="color:#687083">behind them: {{.Behind}}</span>{{end}}</div>
</div>
{{if .Rules}}<ul class="cites">{{range .Rules}}<li><b>{{.Rule}}</b> <span class="what">{{.Border}} · {{.Actions}}</span>{{if .Cited}}{{if .Description}}: {{.Description}}{{end}} <cite>{{.Source}}{{if .Year}} ({{.Year}}){{end}}</cite>{{end}}</li>{{end}}</ul>{{end}}
{{end}}
</section>

<section>
<h2>Measurement against ground truth</h2>
<p class="sub">Each measurement's verdict against the verdict implied by the decisions the borders recorded for it.</p>
<div class="grid2">
<div class="scroll">
<table><tr><th>class</th><th>true</th><th>tp</th><th>fp</th><th>fn</th><th>precision</th><th>recall</th></tr>
{{range .Classes}}<tr><td><span class="pill" style="background:{{vcolor .Class}}">{{.Class}}</span></td><td>{{.Support}}</td><td>{{.TP}}</td><td>{{.FP}}</td><td>{{.FN}}</td><td>{{pct .Precision}}</td><td>{{pct .Recall}}</td></tr>
{{end}}</table>
</div>
<div class="scroll">
<table class="matrix"><tr><th class="row">truth ↓ measured →</th>{{range .Labels}}<th>{{.}}</th>{{end}}</tr>
{{range $i, $row := .Matrix}}<tr><th class="row">{{index $.Labels $i}}</th>{{range $row}}<td style="background:{{.Color}}">{{if .N}}{{.N}}{{end}}</td>{{end}}</tr>
{{end}}</table>
</div>
</div>
{{if .Score.Disagree}}<h3 style="margin:18px 0 6px;font-size:15px">Disagreements ({{len .Score.Disagree}})</h3>
<ul class="dis">{{range .Score.Disagree}}<li><b>{{.Domain}}</b> from {{.Vantage}}: {{.Explanation}}</li>{{end}}</ul>{{if .Score.DisagreeOmitted}}<p class="sub">… and {{.Score.DisagreeOmitted}} more, counted above.</p>{{end}}{{end}}
</section>

{{template "audit" .}}
{{template "health" .}}
<section>
<h2>Evidence, site by site</h2>
<p class="sub">Every blocked or disputed measurement: DNS answers (forged ones and the genuine answer that arrived after), failed connects and handshakes, fetches, and the border's own decisions, injected packets included. Disputed ones (<span class="flag">≠</span>) first.</p>
{{if .Score.ItemsOmitted}}<p class="sub">{{.Score.ItemsOmitted}} more blocked or disputed measurements, alike to one listed here (same vantage, site and verdicts) or beyond the list's bound, are counted above and not listed.</p>{{end}}
<input id="q" placeholder="filter: domain, vantage, verdict, jurisdiction…" oninput="f(this.value)">
<div id="ev">
{{range .Evidence}}<details data-k="{{.Domain}} {{.Vantage}} {{.CC}} {{.Measured}} {{.Truth}} {{.Category}}"><summary>{{if not .Agree}}<span class="flag">≠</span>{{end}}<span class="pill" style="background:{{.MColor}}">{{.Measured}}</span><span class="dom">{{.Domain}}</span><span class="van">{{.Vantage}} · {{.CC}} · {{.Category}}</span><span class="why">{{.Reason}}</span></summary>
<div style="font-size:12px;color:#687083;margin-top:6px">truth: <span class="pill" style="background:{{.TColor}}">{{.Truth}}</span></div>
<ol class="chain">{{range .Lines}}<li class="{{if .Bad}}bad{{end}} {{.Kind}}"><span class="k">{{.Kind}}</span>{{.Text}}</li>{{end}}</ol>
</details>
{{end}}
</div>
</section>

<section id="glossary">
<h2>Glossary</h2>
<p class="sub">What the verdicts, the methods and the other words of this report mean.</p>
<h3>Verdicts: what a measurement concluded</h3>
<dl class="gl">{{range .Glossary.Verdicts}}<dt><span class="pill" style="background:{{.Color}}">{{.Name}}</span></dt><dd>{{.Meaning}}</dd>
{{end}}</dl>
<h3>Methods: what a border does (the action kinds of the policy language)</h3>
<dl class="gl">{{range .Glossary.Methods}}<dt>{{.Name}}</dt><dd>{{.Meaning}}</dd>
{{end}}</dl>
<h3>Layers: what a rule looks at</h3>
<dl class="gl">{{range .Glossary.Layers}}<dt>{{.Name}}</dt><dd>{{.Meaning}}</dd>
{{end}}</dl>
<h3>Other words</h3>
<dl class="gl">{{range .Glossary.Words}}<dt>{{.Name}}</dt><dd>{{.Meaning}}</dd>
{{end}}</dl>
</section>
</main>
<footer>splinter report · OONI web_connectivity measurements scored against the border decision log · self-contained: no external resources</footer>
<script>
function f(q){q=q.toLowerCase();for(const d of document.querySelectorAll('#ev details')){d.style.display=d.dataset.k.toLowerCase().includes(q)?'':'none'}}
</script>
</body></html>
`
