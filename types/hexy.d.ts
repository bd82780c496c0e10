declare module 'hexy' {
  export interface HexyOptions {
    width?: number;
    numbering?: 'hex_bytes' | 'none';
    format?: 'eights' | 'fours' | 'twos' | 'none';
    caps?: 'lower' | 'upper';
    annotate?: 'ascii' | 'none';
    prefix?: string;
    indent?: number;
    html?: boolean;
    offset?: number;
    length?: number;
    display_offset?: number;
  }
  export function hexy(data: Uint8Array | string, options?: HexyOptions): string;
}
