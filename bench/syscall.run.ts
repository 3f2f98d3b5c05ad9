// syscall.run.ts - only the syscall benchmark, printed as the same table (npx tsx bench/syscall.run.ts)

import { benchImage } from './image.ts';
import { benchSyscall } from './syscall.bench.ts';
import { renderTable } from './table.ts';

const { image } = benchImage();
console.log(renderTable(benchSyscall(image)));
