// Which Node and platform get a native uWebSockets.js: the pure verdict over the installed
// binaries' names, and the real lookup against the installed package.
import { describe, expect, it } from 'vitest';
import { checkUws, currentTarget, installedUwsBinaries, uwsVerdict, type UwsTarget } from '../../../src/startup/uws-check.js';

// The file names the npm build (@trufflesuite/uws-js-unofficial 20.30.0) ships.
const NPM_BUILD = ['darwin_arm64', 'darwin_x64', 'linux_arm64', 'linux_arm', 'linux_x64', 'win32_x64'].flatMap((p) => ['93', '108', '115'].map((abi) => `uws_${p}_${abi}.node`));
const linux = (node: string, abi: string): UwsTarget => ({ node, abi, platform: 'linux', arch: 'x64' });

describe('the uWebSockets.js start-up check', () => {
  it('accepts Node 20 on a platform the build has, naming the binary', () => {
    expect(uwsVerdict(linux('20.19.0', '115'), NPM_BUILD)).toEqual({ ok: true, binary: 'uws_linux_x64_115.node' });
    expect(uwsVerdict({ node: '20.20.2', abi: '115', platform: 'darwin', arch: 'arm64' }, NPM_BUILD)).toEqual({ ok: true, binary: 'uws_darwin_arm64_115.node' });
  });

  it('refuses Node 22 and 24 with one line: what the build has and what to do', () => {
    for (const [node, abi] of [['22.12.0', '127'], ['24.1.0', '137']] as const) {
      const v = uwsVerdict(linux(node, abi), NPM_BUILD);
      expect(v.ok).toBe(false);
      const message = v.ok ? '' : v.message;
      expect(message).not.toContain('\n');
      expect(message).toContain(`no native build for Node ${node} (ABI ${abi}) on linux-x64`);
      expect(message).toContain('the installed build has Node 16, 18 and 20 there');
      expect(message).toContain('use Node 20 (20.19 or later)');
      expect(message).toContain('README, "Node versions"');
    }
  });

  it('accepts Node 22 once the official build (which ships ABI 127) is installed', () => {
    const official = ['115', '127', '137', '141'].map((abi) => `uws_linux_x64_${abi}.node`);
    expect(uwsVerdict(linux('22.12.0', '127'), official)).toEqual({ ok: true, binary: 'uws_linux_x64_127.node' });
  });

  it('refuses a platform with no build at all, listing those that have one', () => {
    const v = uwsVerdict({ node: '20.19.0', abi: '115', platform: 'linux', arch: 'riscv64' }, NPM_BUILD);
    expect(v).toMatchObject({ ok: false });
    expect(v.ok ? '' : v.message).toMatch(/^uWebSockets\.js has no native build for linux-riscv64; the installed build has darwin-arm64, .*linux-x64 and win32-x64: /);
  });

  it('refuses a Node older than engines allows, even where a binary exists', () => {
    const v = uwsVerdict(linux('18.20.4', '108'), NPM_BUILD);
    expect(v.ok ? '' : v.message).toMatch(/^agentwire needs Node 20\.19 or later; this is Node 18\.20\.4: /);
    expect(uwsVerdict(linux('20.18.0', '115'), NPM_BUILD).ok).toBe(false);
  });

  it('finds the installed binaries and loads the one for this process', () => {
    expect([...installedUwsBinaries().files.keys()]).toContain(`uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
    expect(checkUws()).toEqual({ ok: true, binary: `uws_${process.platform}_${process.arch}_${process.versions.modules}.node` });
  });

  it('reports a binary that is there but does not load (as a build linked against a newer glibc would)', () => {
    // Another architecture's binary of the same build: present, and refused by the loader.
    const arch = process.arch === 'arm64' ? 'x64' : 'arm64';
    const v = checkUws({ ...currentTarget(), platform: 'linux', arch });
    expect(v.ok).toBe(false);
    expect(v.ok ? '' : v.message).toMatch(new RegExp(`^uWebSockets\\.js's native build uws_linux_${arch}_\\d+\\.node does not load here \\(.+\\): use Node 20`));
  });
});
