import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VillageError } from '@smart-village/shared';
import { detectChipBase, listGpioChips, pickMainChip, sysfsPinOf } from '../../src/gpio/chip.js';

interface FakeChip {
  name: string;
  base: number;
  ngpio: number;
  label: string;
}

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A fake /sys/class/gpio: gpiochipN/{base,ngpio,label} plus export/unexport files. */
async function fakeSysfs(chips: FakeChip[], opts: { exportFile?: boolean } = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'sv-gpio-'));
  dirs.push(root);
  if (opts.exportFile !== false) {
    await writeFile(join(root, 'export'), '');
    await writeFile(join(root, 'unexport'), '');
  }
  for (const c of chips) {
    const dir = join(root, c.name);
    await mkdir(dir);
    await writeFile(join(dir, 'base'), `${c.base}\n`);
    await writeFile(join(dir, 'ngpio'), `${c.ngpio}\n`);
    await writeFile(join(dir, 'label'), `${c.label}\n`);
  }
  return root;
}

const chip = (base: number, label: string, ngpio: number): FakeChip => ({ name: `gpiochip${base}`, base, ngpio, label });

describe('detectChipBase', () => {
  const layouts: { name: string; chips: FakeChip[]; base: number }[] = [
    { name: 'Pi 3, kernel < 6.6', chips: [chip(0, 'pinctrl-bcm2835', 54), chip(504, 'raspberrypi-exp-gpio', 8)], base: 0 },
    { name: 'Pi 4, kernel < 6.6', chips: [chip(0, 'pinctrl-bcm2711', 58), chip(504, 'raspberrypi-exp-gpio', 8)], base: 0 },
    { name: 'Pi 4, kernel ≥ 6.6', chips: [chip(512, 'pinctrl-bcm2711', 58), chip(570, 'raspberrypi-exp-gpio', 8)], base: 512 },
    {
      name: 'Pi 5, kernel ≥ 6.6 (SoC banks first, RP1 drives the header)',
      chips: [
        chip(512, 'gpio-brcmstb@107d508500', 32),
        chip(544, 'gpio-brcmstb@107d508520', 15),
        chip(559, 'gpio-brcmstb@107d517c00', 6),
        chip(565, 'gpio-brcmstb@107d517c20', 6),
        chip(571, 'pinctrl-rp1', 54),
      ],
      base: 571,
    },
    { name: 'unknown label: the chip with ≥ 54 lines', chips: [chip(600, 'some-expander', 16), chip(512, 'pinctrl-bcm2999', 58)], base: 512 },
  ];
  for (const l of layouts) {
    it(l.name, async () => {
      const root = await fakeSysfs(l.chips);
      expect(await detectChipBase(root)).toBe(l.base);
    });
  }

  it('maps BCM17 to sysfs 529 on a kernel ≥ 6.6 Pi 4', async () => {
    const root = await fakeSysfs(layouts[2]?.chips ?? []);
    expect(sysfsPinOf(await detectChipBase(root), 17)).toBe(529);
  });

  it('says how to fix a missing sysfs root', async () => {
    const root = join(tmpdir(), 'sv-gpio-does-not-exist', 'class', 'gpio');
    const err = await detectChipBase(root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VillageError);
    const ve = err as VillageError;
    expect(ve.code).toBe('GPIO_UNAVAILABLE');
    expect(ve.message).toContain(root);
    expect(ve.message).toContain('does not exist');
    expect(ve.message).toContain('gpio group');
    expect(ve.message).toContain('edge.gpio.driver: simulated');
  });

  it('fails when the export file is missing', async () => {
    const root = await fakeSysfs([chip(0, 'pinctrl-bcm2835', 54)], { exportFile: false });
    await expect(detectChipBase(root)).rejects.toMatchObject({ code: 'GPIO_UNAVAILABLE', message: expect.stringContaining(`${join(root, 'export')} does not exist`) });
  });

  // root can write anything, so the permission check cannot be seen failing as root.
  it('fails when the export file is not writable', async () => {
    const root = await fakeSysfs([chip(0, 'pinctrl-bcm2835', 54)]);
    await chmod(join(root, 'export'), 0o444);
    if (process.getuid?.() !== 0) {
      await expect(detectChipBase(root)).rejects.toMatchObject({
        code: 'GPIO_UNAVAILABLE',
        message: expect.stringMatching(/not writable by this user.*gpio group.*edge\.gpio\.driver: simulated/),
      });
      return;
    }
    // Root may write anything: run the check as "nobody", like a service user outside the gpio group.
    await chmod(root, 0o755);
    const chipJs = fileURLToPath(new URL('../../dist/gpio/chip.js', import.meta.url));
    const script = `import(${JSON.stringify(chipJs)}).then((m) => m.detectChipBase(${JSON.stringify(root)})).then((b) => console.log(JSON.stringify({ base: b })), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })))`;
    const out = execFileSync(process.execPath, ['-e', script], { uid: 65534, gid: 65534, cwd: '/', encoding: 'utf8' });
    expect(JSON.parse(out)).toMatchObject({
      code: 'GPIO_UNAVAILABLE',
      message: expect.stringMatching(/not writable by this user.*gpio group.*edge\.gpio\.driver: simulated/),
    });
  });

  it('lists what it found when no chip is the Pi controller', async () => {
    const root = await fakeSysfs([chip(504, 'raspberrypi-exp-gpio', 8)]);
    await expect(detectChipBase(root)).rejects.toMatchObject({
      code: 'GPIO_UNAVAILABLE',
      message: expect.stringMatching(/gpiochip504 "raspberrypi-exp-gpio" \(8 lines\).*edge\.gpio\.chipBase/),
    });
  });
});

describe('listGpioChips / pickMainChip', () => {
  it('reads base, ngpio and label and skips broken chips', async () => {
    const root = await fakeSysfs([chip(512, 'pinctrl-bcm2711', 58)]);
    await mkdir(join(root, 'gpiochip9'));
    await writeFile(join(root, 'gpiochip9', 'base'), 'garbage');
    expect(await listGpioChips(root)).toEqual([{ name: 'gpiochip512', base: 512, ngpio: 58, label: 'pinctrl-bcm2711' }]);
  });

  it('prefers a known label over a bigger chip', () => {
    expect(pickMainChip([chip(0, 'big-fpga', 128), chip(512, 'pinctrl-rp1', 54)])?.base).toBe(512);
    expect(pickMainChip([])).toBeUndefined();
  });
});
