// notation.ts - the expected-dmesg notation of the selftests (INS/RM/DIS/EN/UN/ENcb/UNcb/COMING/GOING), expanded as the scripts print it

/** INS(M a): `% insmod test_modules/M.ko a` (no trailing space without args). */
export const insmod = (m: string, args = ''): string => `% insmod test_modules/${m}.ko${args ? ` ${args}` : ''}`;

/** RM(M) */
export const rmmod = (m: string): string => `% rmmod ${m}`;

/** DIS(P) */
export const disable = (p: string): string => `% echo 0 > /sys/kernel/livepatch/${p}/enabled`;

/** `<P>: <which>_callback: <O>` for each object label, in order. */
const cbLines = (p: string, which: string, objs: string[]): string[] => objs.map((o) => `${p}: ${which}_callback: ${o}`);

/** ENcb(P; objs); with no objects it is EN(P). */
export const enCb = (p: string, objs: string[] = []): string => [
  `livepatch: enabling patch '${p}'`,
  `livepatch: '${p}': initializing patching transition`,
  ...cbLines(p, 'pre_patch', objs),
  `livepatch: '${p}': starting patching transition`,
  `livepatch: '${p}': completing patching transition`,
  ...cbLines(p, 'post_patch', objs),
  `livepatch: '${p}': patching complete`,
].join('\n');

/** UNcb(P; objs); with no objects it is UN(P). */
export const unCb = (p: string, objs: string[] = []): string => [
  `livepatch: '${p}': initializing unpatching transition`,
  ...cbLines(p, 'pre_unpatch', objs),
  `livepatch: '${p}': starting unpatching transition`,
  `livepatch: '${p}': completing unpatching transition`,
  ...cbLines(p, 'post_unpatch', objs),
  `livepatch: '${p}': unpatching complete`,
].join('\n');

/** EN(P) */
export const en = (p: string): string => enCb(p);

/** UN(P) */
export const un = (p: string): string => unCb(p);

/** Object labels X@LIVE, X@COMING, X@GOING. */
export const live = (m: string): string => `${m} -> [MODULE_STATE_LIVE] Normal state`;
export const coming = (m: string): string => `${m} -> [MODULE_STATE_COMING] Full formed, running module_init`;
export const going = (m: string): string => `${m} -> [MODULE_STATE_GOING] Going away`;

/** `M: M_init` / `M: M_exit` */
export const modInit = (m: string): string => `${m}: ${m}_init`;
export const modExit = (m: string): string => `${m}: ${m}_exit`;

/** COMING(P,M): the livepatch applied to a loading module, then its init. */
export const comingLines = (p: string, m: string): string => [
  `livepatch: applying patch '${p}' to loading module '${m}'`,
  `${p}: pre_patch_callback: ${coming(m)}`,
  `${p}: post_patch_callback: ${coming(m)}`,
  modInit(m),
].join('\n');

/** GOING(P,M): the module's exit, then the livepatch reverted from it. */
export const goingLines = (p: string, m: string): string => [
  modExit(m),
  `${p}: pre_unpatch_callback: ${going(m)}`,
  `livepatch: reverting patch '${p}' on unloading module '${m}'`,
  `${p}: post_unpatch_callback: ${going(m)}`,
].join('\n');

/** Join expected pieces into check_result's text. */
export const lines = (...parts: string[]): string => parts.join('\n');
