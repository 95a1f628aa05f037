import { describeShortVariants } from './short-variants.ts';

describeShortVariants(1);
