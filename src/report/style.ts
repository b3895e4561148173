/**
 * Terminal styling that respects NO_COLOR (https://no-color.org) and --no-color, and escaping of
 * text that may come from packets so no control sequence reaches the terminal.
 */
export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;

const COLORED: Style = {
  bold: wrap(1, 22),
  dim: wrap(2, 22),
  red: wrap(31, 39),
  yellow: wrap(33, 39),
  green: wrap(32, 39),
  cyan: wrap(36, 39),
  magenta: wrap(35, 39),
};

const id = (s: string): string => s;
const PLAIN: Style = { bold: id, dim: id, red: id, yellow: id, green: id, cyan: id, magenta: id };

/** Colour only when asked for, the stream is a TTY and NO_COLOR is unset or empty. */
export function makeStyle(wantColor: boolean | undefined, stream: NodeJS.WriteStream): Style {
  if (wantColor === false) return PLAIN;
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return PLAIN;
  if (wantColor === true) return COLORED;
  return stream.isTTY ? COLORED : PLAIN;
}

/**
 * Makes any string safe to print: C0/C1 control characters (ESC included), DEL, and Unicode
 * bidirectional overrides become visible escapes like \x1b or \u202e.
 */
export function escapeTerminal(s: string): string {
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
