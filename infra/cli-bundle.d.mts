export declare const BUNDLE_ENTRY: string;
export declare const SOURCE_ENTRY: string;
export declare function bundleIsCurrent(root?: string): boolean;
