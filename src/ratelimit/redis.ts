import type { Redis } from 'ioredis';
import type { Rate } from './gcra.ts';
import { ALLOWED, type Verdict } from './local.ts';

/**
 * The GCRA step for several buckets at once, atomically, on Redis's clock (so every hub instance agrees
 * on time). ARGV holds interval and capacity per key. All buckets are counted or none; returns
 * {0} when allowed, {retryAfterMs, index of the limiting bucket (0-based)} when not.
 */
const GCRA_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local retry = 0
local limiting = -1
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[i * 2 - 1])
  local capacity = tonumber(ARGV[i * 2])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local wait = tat - now - (capacity - 1) * interval
  if wait > 0.001 and wait > retry then
    retry = wait
    limiting = i - 1
  end
  tats[i] = tat + interval
end
if retry > 0 then
  return {math.ceil(retry), limiting}
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, string.format('%.3f', tats[i]), 'PX', math.max(1, math.ceil(tats[i] - now)))
end
return {0}
`;

type GcraCommand = (numKeys: number, ...args: (string | number)[]) => Promise<number[]>;

/** GCRA buckets in Redis, shared by every hub instance that uses the same Redis and key prefix. */
export class RedisBuckets {
  private readonly command: GcraCommand;

  constructor(readonly redis: Redis) {
    if (!('omnihubGcra' in redis)) redis.defineCommand('omnihubGcra', { lua: GCRA_SCRIPT });
    const defined = (redis as unknown as { omnihubGcra: GcraCommand }).omnihubGcra;
    this.command = defined.bind(redis);
  }

  /** Ready to take commands now (connected); otherwise callers use their local buckets. */
  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  async take(keys: readonly string[], rates: readonly Rate[]): Promise<Verdict> {
    const args: (string | number)[] = [...keys];
    for (const rate of rates) args.push(rate.intervalMs, rate.capacity);
    const [retry, limiting] = await this.command(keys.length, ...args);
    return retry ? { retryAfterMs: Number(retry), limiting: Number(limiting) } : ALLOWED;
  }
}
