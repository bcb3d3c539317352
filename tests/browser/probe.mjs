// SPDX-License-Identifier: MIT
// probe.mjs -- exit 0 if playwright-core can launch and drive the system chromium, else 1
// (run.sh turns that into a skip).
import { chromium } from 'playwright-core';

try {
  const b = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true, args: ['--no-sandbox'], timeout: 30000 });
  const p = await b.newPage();
  await p.setContent('<p>ok</p>');
  await b.close();
  process.exit(0);
} catch (e) {
  console.error(`probe: ${e.message.split('\n')[0]}`);
  process.exit(1);
}
