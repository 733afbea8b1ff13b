import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
export interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
}

export interface HotFunction {
  function: string;
  selfPercent: number;
}

/** Self time by function over every .cpuprofile in `dir` (written by node --cpu-prof). */
export async function summarizeCpuProfiles(dir: string, top = 15): Promise<HotFunction[]> {
  const profiles: Profile[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))) {
    profiles.push(JSON.parse(await readFile(join(dir, file), 'utf8')) as Profile);
  }
  return summarizeProfiles(profiles, top);
}

/** Where a sample's function lives, coarsely: enough to say which layer the CPU goes to. */
function areaOf(functionName: string, url: string): string {
  if (functionName === '(garbage collector)') return 'GC';
  if (url.includes('/dist/src/')) return 'ledgerctl';
  if (url.includes('/dist/bench/')) return 'bench';
  if (url.includes('@grpc/grpc-js')) return 'grpc-js';
  if (url.includes('protobufjs') || url.includes('proto-loader')) return 'protobuf';
  if (url.includes('node:internal/http2') || url.includes('node:internal/stream'))
    return 'node http2/streams';
  if (url.startsWith('node:')) return 'node other';
  if (url.includes('node_modules')) return 'other packages';
  return 'native/other';
}

/**
 * Self time by function, as a share of the busy samples: idle time (a server waiting for the
 * next run) is left out so the shares say where the work goes. The first entries are per area.
 */
export function summarizeProfiles(profiles: readonly Profile[], top = 15): HotFunction[] {
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  for (const profile of profiles) {
    for (const node of profile.nodes) {
      const hits = node.hitCount ?? 0;
      const { functionName, url, lineNumber } = node.callFrame;
      if (hits === 0 || functionName === '(idle)') continue;
      const file = url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/dist\//, '');
      const key = `${functionName || '(anonymous)'}${url === '' ? '' : ` ${file}:${lineNumber + 1}`}`;
      self.set(key, (self.get(key) ?? 0) + hits);
      const area = `[area] ${areaOf(functionName, url)}`;
      areas.set(area, (areas.get(area) ?? 0) + hits);
      total += hits;
    }
  }
  const share = ([fn, hits]: [string, number]): HotFunction => ({
    function: fn,
    selfPercent: (hits / total) * 100,
  });
  return [
    ...[...areas.entries()].sort((a, b) => b[1] - a[1]).map(share),
    ...[...self.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(share),
  ];
}

/** Profiles `work` in this thread through the inspector (no restart with --cpu-prof needed). */
export async function profileInProcess<T>(work: () => Promise<T>): Promise<{ value: T; profile: Profile }> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    const value = await work();
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
    return { value, profile };
  } finally {
    session.disconnect();
  }
}
