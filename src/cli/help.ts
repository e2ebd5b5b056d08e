import { globalFlags, globalsOf, type CommandAbout, type Flags, type FlagSpec } from './args.ts';

const COLUMN = 24;

function flagLabel(name: string, spec: FlagSpec): string {
  const long = `--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`;
  return spec.short ? `-${spec.short}, ${long}` : long;
}

/** `  label      text`, the text starting at one column (or on the next line when the label is long). */
function row(label: string, text: string): string {
  const lead = `  ${label}`;
  if (!text) return `${lead}\n`;
  return lead.length + 2 <= COLUMN ? `${lead.padEnd(COLUMN)}${text}\n` : `${lead}\n${' '.repeat(COLUMN)}${text}\n`;
}

/** The usage line: `usage: shoal up [CONFIG] [options]`. */
export function usageLine(about: CommandAbout, name = about.name): string {
  return `usage: shoal ${name ?? '<command>'}${about.usage ? ` ${about.usage}` : ' [options]'}`;
}

/** A command's `--help`: summary, usage, arguments, its own flags, then the global ones it takes. */
export function commandHelp(about: CommandAbout, flags: Flags, name = about.name): string {
  let text = about.summary ? `shoal ${name}: ${about.summary}\n\n` : '';
  text += `${usageLine(about, name)}\n`;
  if (about.positionals?.length) {
    text += '\narguments:\n';
    for (const p of about.positionals) text += row(p.name, p.help);
  }
  const own = Object.entries(flags).filter(([flag]) => !Object.hasOwn(globalFlags, flag));
  if (own.length > 0) {
    text += '\noptions:\n';
    for (const [flag, spec] of own) text += row(flagLabel(flag, spec), spec.help ?? '');
  }
  text += '\nglobal options (before or after the command):\n';
  for (const [flag, spec] of Object.entries(globalsOf(about))) text += row(flagLabel(flag, spec), spec.help ?? '');
  if (about.notes) text += `\n${about.notes.trimEnd()}\n`;
  return text;
}

export interface CommandListing {
  name: string;
  summary?: string;
}

/** `shoal --help`: one line per command, then the global flags. */
export function globalHelp(commands: readonly CommandListing[], version: string): string {
  let text = `shoal ${version}: run a distributed TypeScript backend as a local cluster\n\nusage: shoal [global options] <command> [options]\n\ncommands:\n`;
  for (const c of commands) text += row(c.name, c.summary ?? `see shoal ${c.name} --help`);
  text += '\nglobal options (before or after the command):\n';
  for (const [flag, spec] of Object.entries(globalFlags)) text += row(flagLabel(flag, spec), spec.help);
  text += row('-v, --version', 'print the version of shoal');
  text += '\nshoal <command> --help lists the options of a command.\n';
  return text;
}
