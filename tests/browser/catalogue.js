// SPDX-License-Identifier: Apache-2.0
'use strict';
// Drives Debian's chromium (headless, through puppeteer-core) over a
// catalogue page served on 127.0.0.1 and prints one line per check,
// "ok - WHAT" or "not ok - WHAT: why"; tests/cli/catalogue.sh counts them.
//
//   node catalogue.js --url URL --rows N [--filter TEXT --filtered M]
//        [--links N] [--hostile] [--screenshot PATH]
//
// --rows N       the table shows N products, also without JavaScript
// --filter TEXT  typing TEXT in the filter leaves M products shown
// --links N      the first N products' file links all answer 200
// --hostile      the tree's strings ran no script and made no element
// --no-axe       skip axe-core (minutes on a page of 100 000 items)
// --screenshot   a 1280x900 picture of the page (first product opened)
// CHROMIUM names the browser (default /usr/bin/chromium).
const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');

const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

function parseArgs(argv) {
	const a = { links: 0, hostile: false };
	for (let i = 2; i < argv.length; i++) {
		const k = argv[i];
		if (k === '--hostile') a.hostile = true;
		else if (k === '--no-axe') a.noAxe = true;
		else if (k.startsWith('--') && i + 1 < argv.length) a[k.slice(2)] = argv[++i];
		else throw new Error('usage: unknown argument ' + k);
	}
	if (!a.url || a.rows === undefined) throw new Error('usage: --url URL --rows N required');
	return a;
}

let failed = 0;
const t0 = Date.now();
function report(ok, what, why) {
	if (process.env.CATALOGUE_TIMES) console.error(((Date.now() - t0) / 1000).toFixed(1) + ' s');
	if (ok) console.log('ok - ' + what);
	else {
		failed++;
		console.log('not ok - ' + what + (why === undefined ? '' : ': ' + why));
	}
}

// Shown products, and whether the filter box is visible.
async function tableState(page) {
	return page.evaluate(() => ({
		rows: Array.prototype.filter.call(document.querySelectorAll('#cat>tbody'), (b) => !b.hidden).length,
		filterShown: !document.getElementById('f').hidden,
	}));
}

async function checkNoScript(browser, a) {
	const ctx = await browser.createBrowserContext();
	const page = await ctx.newPage();
	await page.setJavaScriptEnabled(false);
	await page.goto(a.url, { waitUntil: 'load' });
	const st = await tableState(page);
	report(st.rows === Number(a.rows), 'without JavaScript the whole table shows (' + a.rows + ' products)', st.rows);
	report(!st.filterShown, 'without JavaScript no dead filter box shows');
	await ctx.close();
}

async function checkFilterAndSort(page, a) {
	if (a.filter !== undefined) {
		await page.type('#q', a.filter);
		const st = await tableState(page);
		report(st.rows === Number(a.filtered), 'typing "' + a.filter + '" leaves ' + a.filtered + ' products', st.rows);
		const n = await page.$eval('#n', (e) => e.textContent);
		report(n.startsWith(a.filtered + ' of '), 'the count says so', n);
		await page.$eval('#q', (e) => { e.value = ''; e.dispatchEvent(new Event('input')); });
		const back = await tableState(page);
		report(back.rows === Number(a.rows), 'clearing the filter shows every product again', back.rows);
	}
	const col = await page.$$eval('#cat>thead th', (ths) => ths.findIndex((t) => t.textContent === 'Size'));
	await page.click('#cat>thead th:nth-child(' + (col + 1) + ') button');
	const sizes = await page.$$eval('#cat>tbody>tr.p', (trs, c) => trs.map((r) => Number(r.cells[c].dataset.k)), col);
	report(sizes.every((s, i) => i === 0 || sizes[i - 1] <= s), 'a click on Size sorts by size');
	const sort = await page.$eval('#cat>thead th:nth-child(' + (col + 1) + ')', (t) => t.getAttribute('aria-sort'));
	report(sort === 'ascending', 'the column says it is sorted', sort);
}

async function checkLinks(page, a) {
	if (!Number(a.links)) return;
	const hrefs = await page.$$eval('#cat>tbody', (bs, n) => {
		const out = [];
		bs.slice(0, n).forEach((b) => {
			b.querySelector('details').open = true;
			b.querySelectorAll('details a[href]').forEach((l) => out.push(l.href));
		});
		return out;
	}, Number(a.links));
	const visible = await page.$$eval('#cat>tbody details[open] a[href]', (ls) =>
		ls.filter((l) => l.getClientRects().length > 0).length);
	report(hrefs.length > 0 && visible === hrefs.length, 'opened products list their files (' + hrefs.length + ' links)',
		visible + ' of ' + hrefs.length + ' visible');
	const statuses = await page.evaluate(async (hs) => {
		const out = [];
		for (const h of hs) out.push([h, (await fetch(h, { method: 'HEAD' })).status]);
		return out;
	}, hrefs);
	const bad = statuses.filter((s) => s[1] !== 200);
	report(bad.length === 0 && hrefs.every((h) => h.startsWith(new URL(a.url).origin + '/')),
		'every file link resolves against the served tree (200)', JSON.stringify(bad.slice(0, 3)));
}

async function checkHostile(page, dialogs) {
	// open everything, hover and click about, so that any handler would fire
	await page.$$eval('details', (ds) => ds.forEach((d) => { d.open = true; }));
	for (const el of await page.$$('#cat td, #cat summary, h1, pre')) {
		await el.hover().catch(() => {});
	}
	await page.type('#q', '<script>');
	const found = await page.evaluate(() => {
		const out = [];
		document.querySelectorAll('*').forEach((e) => {
			for (const at of e.attributes) if (/^on/i.test(at.name)) out.push(e.tagName + ' ' + at.name);
			if (/^(IMG|IFRAME|OBJECT|EMBED|SVG|B|I)$/i.test(e.tagName)) out.push(e.tagName);
		});
		document.querySelectorAll('[href],[src]').forEach((e) => {
			const u = e.getAttribute('href') || e.getAttribute('src');
			if (/^\s*javascript:/i.test(u)) out.push('javascript: URL');
		});
		return { out, scripts: document.scripts.length, pwned: window.pwned };
	});
	report(found.scripts === 1, 'the page has its own script only', found.scripts);
	report(found.out.length === 0, 'no element or handler of the tree exists', found.out.slice(0, 5).join(', '));
	report(found.pwned === undefined, 'no script of the tree ran (window.pwned unset)', found.pwned);
	report(dialogs.length === 0, 'no alert was raised', dialogs.join(', '));
}

async function checkAxe(page) {
	await page.$eval('#cat>tbody details', (d) => { d.open = true; }).catch(() => {});
	await page.addScriptTag({ content: axeSource });
	const v = await page.evaluate(async () => {
		// the first 20 products stand for the rest (the same markup): axe
		// takes minutes over thousands of rows, so the others leave this
		// page (the last check on it)
		Array.prototype.slice.call(document.getElementById('cat').tBodies, 20).forEach((b) => b.remove());
		const r = await window.axe.run(document, { resultTypes: ['violations'] });
		return r.violations.filter((x) => x.impact === 'serious' || x.impact === 'critical')
			.map((x) => x.id + ' (' + x.nodes.length + ')');
	});
	report(v.length === 0, 'axe-core: no serious or critical violation', v.join(', '));
}

async function checkPhone(browser, a) {
	const page = await browser.newPage();
	await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
	await page.goto(a.url, { waitUntil: 'load' });
	const r = await page.evaluate(() => ({
		display: getComputedStyle(document.querySelector('#cat>tbody>tr.p>td') || document.body).display,
		overflow: document.documentElement.scrollWidth - window.innerWidth,
	}));
	report(r.display === 'block', 'on a phone the rows turn into cards', r.display);
	report(r.overflow <= 0, 'on a phone the page does not scroll sideways', r.overflow + ' px too wide');
	await page.close();
}

async function main() {
	const a = parseArgs(process.argv);
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sstream-chromium-'));
	const browser = await puppeteer.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		userDataDir: profile,
		args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'],
	});
	try {
		await checkNoScript(browser, a);
		const page = await browser.newPage();
		await page.setViewport({ width: 1280, height: 900 });
		const dialogs = [], foreign = [], errors = [];
		page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
		page.on('pageerror', (e) => errors.push(String(e)));
		page.on('request', (r) => { if (!r.url().startsWith(new URL(a.url).origin + '/')) foreign.push(r.url()); });
		await page.goto(a.url, { waitUntil: 'load' });
		// for the record (not a check): how long the page took to load
		const ms = await page.evaluate(() => {
			const n = performance.getEntriesByType('navigation')[0];
			return n ? Math.round(n.loadEventEnd - n.startTime) : -1;
		});
		console.log('# loaded (the load event) after ' + ms + ' ms');
		const st = await tableState(page);
		report(st.rows === Number(a.rows), 'the table shows ' + a.rows + ' products', st.rows);
		report(st.filterShown, 'with JavaScript the filter box shows');
		await checkFilterAndSort(page, a);
		await checkLinks(page, a);
		if (a.hostile) await checkHostile(page, dialogs);
		report(errors.length === 0, 'the page raised no script error', errors.join('; '));
		report(foreign.length === 0, 'the page requested nothing from elsewhere', foreign.slice(0, 3).join(' '));
		if (a.screenshot) {
			await page.goto(a.url, { waitUntil: 'load' });
			await page.$eval('#cat>tbody details', (d) => { d.open = true; }).catch(() => {});
			await page.screenshot({ path: a.screenshot });
			report(fs.statSync(a.screenshot).size > 0, 'screenshot written to ' + a.screenshot);
		}
		if (!a.noAxe) await checkAxe(page);
		await checkPhone(browser, a);
	} finally {
		await browser.close();
		fs.rmSync(profile, { recursive: true, force: true });
	}
	process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
	console.log('not ok - browser run: ' + (e && e.stack ? e.stack.split('\n')[0] : e));
	process.exitCode = 2;
});
