// bench_verify_dcapqvl.js: the baseline for bench_verify.sh: Phala's
// @phala/dcap-qvl (JavaScript, from npm) verifying the same quote with the
// same collateral in a loop. Usage: node bench_verify_dcapqvl.js MODULE_DIR
// QUOTE COLLATERAL.json NOW_UNIX ITERATIONS. Prints one JSON line.
const fs = require('fs');
const [modDir, quoteFile, colFile, now, iters] = process.argv.slice(2);
const { verify } = require(modDir + '/src/verify');
let raw = fs.readFileSync(quoteFile);
const txt = raw.toString('latin1').trim();
if (/^(0x)?[0-9a-fA-F]+$/.test(txt)) raw = Buffer.from(txt.replace(/^0x/, ''), 'hex');
const quote = new Uint8Array(raw);
const collateral = JSON.parse(fs.readFileSync(colFile, 'utf8'));
const n = parseInt(iters, 10);
let r = verify(quote, collateral, parseInt(now, 10)); // warm-up, and the status
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) r = verify(quote, collateral, parseInt(now, 10));
const dt = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ iterations: n, seconds: dt, per_second: n / dt, ms_per_verification: dt * 1000 / n,
  status: r.status, advisory_ids: r.advisory_ids || r.advisoryIds }));
