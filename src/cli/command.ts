// The commander Command every `aliasid` command is made of: how it answers a usage mistake
// and how its help shows options (issue 18 item 8).
import { Command, Help, type Option } from 'commander';

/** `aliasid client create`: the words that run this command. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

class AliasHelp extends Help {
  /**
   * A repeatable option collects into an array that starts empty; commander would show
   * "(default: [])" beside the real default its description names (`--grant-type`:
   * authorization_code). An empty list is no default worth showing.
   */
  override optionDescription(option: Option): string {
    if (Array.isArray(option.defaultValue) && option.defaultValue.length === 0) {
      const shown = Object.assign(Object.create(Object.getPrototypeOf(option) as object) as Option, option, { defaultValue: undefined });
      return super.optionDescription(shown);
    }
    return super.optionDescription(option);
  }
}

export class AliasCommand extends Command {
  override createCommand(name?: string): Command {
    return new AliasCommand(name);
  }

  override createHelp(): Help {
    return Object.assign(new AliasHelp(), this.configureHelp());
  }

  /**
   * A usage mistake (unknown option or command, a missing argument or required option)
   * prints one line naming it and where to read more, on stderr, and exits 1. The whole
   * help after it pushed the message off the screen.
   */
  override error(message: string, errorOptions?: { code?: string; exitCode?: number }): never {
    // Commander's suggestion ("(Did you mean --name?)") comes on a line of its own.
    const text = message.replace(/^error:\s*/, '').replace(/\s*\n\s*/g, ' ').trim();
    return super.error(`aliasid: ${text}; see \`${commandPath(this)} --help\``, errorOptions);
  }
}
