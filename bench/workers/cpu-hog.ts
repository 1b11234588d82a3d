/**
 * A CPU hog for bench/soak.ts: spins one core until it is killed. Not a worker module: a plain script,
 * started once per core. It also ends by itself when its parent is gone (the soak was SIGKILLed and
 * could not kill it), checking a few times a second, so a hog never outlives its benchmark.
 * @module
 */
/** The soak's pid (argv[2], else our parent's): once our parent is another, the soak is gone, and so is this hog. */
const parent = Number(process.argv[2] ?? process.ppid);
let x = 0;
for (;;) {
  const until = Date.now() + 200;
  while (Date.now() < until) for (let i = 0; i < 10_000; i++) x = (x * 1_103_515_245 + 12_345) | 0;
  if (process.ppid !== parent) process.exit(x === 0.5 ? 1 : 0);
}
