/**
 * `*` globs (and, for audience rules, `?`) matched in time linear in the text. A glob turned
 * into a regular expression (`^a.*b.*c$`) backtracks over every split of the text between its
 * stars: a rule with a few stars took seconds on a long URL. Here the text between stars is
 * found left to right, each piece once (the leftmost match of a piece never loses a match a
 * later one would find), so the text is read about once per piece.
 */

/** What the glob's characters mean. */
export interface GlobSyntax {
  /** `?` matches any one character (audience rules); else it is itself (URLs hold `?`). */
  anyChar: boolean;
}

/** Finds a piece (no `*`) in text at or after `from`, ending by `limit`; -1 when it is not. */
type PieceFinder = (text: string, from: number, limit: number) => number;

const ANY = 0x3f; // '?'

/** A piece with `?` found by bit-parallel Shift-And: O(text × ⌈piece / 32⌉). */
function wildPieceFinder(piece: string): PieceFinder {
  const words = Math.ceil(piece.length / 32);
  const wild = new Uint32Array(words);
  const masks = new Map<number, Uint32Array>();
  for (let i = 0; i < piece.length; i++) {
    const c = piece.charCodeAt(i);
    if (c === ANY) wild[i >>> 5] |= 1 << (i & 31);
  }
  for (let i = 0; i < piece.length; i++) {
    const c = piece.charCodeAt(i);
    if (c === ANY) continue;
    let mask = masks.get(c);
    if (!mask) {
      mask = wild.slice();
      masks.set(c, mask);
    }
    mask[i >>> 5] |= 1 << (i & 31);
  }
  const lastWord = (piece.length - 1) >>> 5;
  const lastBit = 1 << ((piece.length - 1) & 31);
  return (text, from, limit) => {
    const state = new Uint32Array(words);
    for (let j = from; j < limit; j++) {
      const mask = masks.get(text.charCodeAt(j)) ?? wild;
      for (let w = words - 1; w >= 0; w--) {
        const carry = w === 0 ? 1 : state[w - 1] >>> 31;
        state[w] = ((state[w] << 1) | carry) & mask[w];
      }
      if (state[lastWord] & lastBit) return j - piece.length + 1;
    }
    return -1;
  };
}

function pieceFinder(piece: string, syntax: GlobSyntax): PieceFinder {
  if (syntax.anyChar && piece.includes('?')) return wildPieceFinder(piece);
  return (text, from, limit) => {
    const at = text.indexOf(piece, from);
    return at >= 0 && at + piece.length <= limit ? at : -1;
  };
}

/** Whether `piece` (no `*`) matches `text` exactly at `at`. */
function pieceAt(text: string, at: number, piece: string, syntax: GlobSyntax): boolean {
  if (!syntax.anyChar) return text.startsWith(piece, at);
  for (let i = 0; i < piece.length; i++) {
    const c = piece.charCodeAt(i);
    if (c !== ANY && c !== text.charCodeAt(at + i)) return false;
  }
  return true;
}

/** The glob as a test of a whole text (anchored at both ends). */
export function globMatcher(pattern: string, syntax: GlobSyntax): (text: string) => boolean {
  const pieces = pattern.split('*');
  const first = pieces[0];
  const last = pieces[pieces.length - 1];
  if (pieces.length === 1)
    return (text) => text.length === first.length && pieceAt(text, 0, first, syntax);
  const middle = pieces.slice(1, -1).filter((p) => p !== '');
  const finders = middle.map((p) => pieceFinder(p, syntax));
  const fixed = first.length + last.length;
  return (text) => {
    if (text.length < fixed) return false;
    const limit = text.length - last.length;
    if (!pieceAt(text, 0, first, syntax) || !pieceAt(text, limit, last, syntax)) return false;
    let from = first.length;
    for (const [i, find] of finders.entries()) {
      const at = find(text, from, limit);
      if (at < 0) return false;
      from = at + middle[i].length;
    }
    return true;
  };
}
