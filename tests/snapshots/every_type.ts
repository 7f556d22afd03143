// Generated from Rust declarations by capnweb-rpc: do not edit.
import type { RpcStub, RpcTarget } from "capnweb";

/** Internal tagging, with a renamed field in a struct variant and a flattened newtype. */
export type Event = { type: "Started" } | { type: "Moved"; fromX: number; toX: number } | { type: "Renamed" } & Profile;

export interface Everything extends RpcTarget {
  /** Numbers of every width, booleans, strings. */
  scalars(a: number, b: number, c: number, d: number, e: number, f: number, g: boolean, h: string, i: string): number;
  /** Wider than 64 bits: a bigint when it must be. */
  wide(a: number | bigint): number | bigint;
  nothing(): undefined;
  options(required: number | null, js: string | null | undefined, trailing?: number | null, last?: boolean | null): Array<number> | null;
  collections(list: Array<string>, fixed: [number, number, number], tuple: [number, string], map: Record<string, Array<number>>): Record<string, boolean>;
  specials(any: unknown, date: Date, bytes: Uint8Array, big: bigint, error: Error, blob: Blob): Date;
  streams(input: ReadableStream, output: WritableStream): undefined;
  callbacks(f: (arg: number) => string | Promise<string>): number | Promise<number>;
  /** Another interface, and this one. */
  capabilities(other: RpcStub<Side>): RpcStub<Everything>;
  userTypes(profile: Profile, shape: Shape, event: Event, message: Message, loose: Loose, page: Page, id: UserId, pair: Pair, wrapper: Wrapper, tree: TreeNode, tagged: TaggedThing, fromMacro: FromMacro): Kind;
  /** Parameter names TypeScript reserves get a `_`. */
  reserved(default_: number, new_: number, this_: number): undefined;
  readonly version: string;
  "with-dash"(): undefined;
}

export interface FromMacro {
  inner: Array<Kind>;
}

/** Unit variants: strings. */
export type Kind = "admin" | "regular_user" | "guest!";

/** No tags at all. */
export type Loose = number | { words: Array<string> } | undefined;

/** Adjacent tagging. */
export type Message = { t: "Ping" } | { t: "Text"; c: string } | { t: "Pair"; c: [number, number] };

/** Flattened members, and a hand-given type. */
export type Page = { when: string } & Profile & Record<string, unknown>;

export type Pair = [string, boolean | null];

/** Every field kind, with serde's renames and optional members. */
export interface Profile {
  /** 64-bit integers travel as numbers. */
  userId: number;
  displayName: string;
  nickname: string | null;
  avatar?: string | null;
  tags?: Array<string>;
  ScoreByGame: Record<string, number>;
  /** Renamed when read only: written under its own (camelCase) name. */
  onlyReadRenamed: boolean;
  position: [number, number];
  kind: Kind;
}

/** The default, external tagging. */
export type Shape = "Point" | { Circle: number } | { Rect: [number, number] } | { Polygon: { points: Array<[number, number]> } };

/** Another interface, referred to by the first. */
export interface Side extends RpcTarget {
  ping(): undefined;
}

/** A struct tagged with its own (Rust) name, whatever TypeScript calls it. */
export interface TaggedThing {
  kind: "Tagged";
  id: number;
}

/** A tree: a type that refers to itself is declared once. */
export interface TreeNode {
  children: Array<TreeNode>;
}

/** Newtypes, tuples and units are what serde makes of them. */
export type UserId = number;

export type Wrapper = Array<UserId>;
