// The help of every `aliasid` command, read from the program definition in-process:
// a repeatable option never shows "(default: [])" beside the default its description names
// (issue 18 item 8), and a usage mistake names the command's own help.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { program } from '../../src/cli/program.js';
import { commandPath } from '../../src/cli/command.js';

function* allCommands(cmd: Command): Generator<Command> {
  yield cmd;
  for (const sub of cmd.commands) yield* allCommands(sub);
}

describe('aliasid help', () => {
  const commands = [...allCommands(program)];

  it('covers every command of the program', () => {
    assert.ok(commands.some((c) => commandPath(c) === 'aliasid client create'));
    assert.ok(commands.length > 10);
  });

  for (const cmd of commands) {
    it(`${commandPath(cmd)} --help shows no "(default: [])"`, () => {
      const help = cmd.helpInformation();
      assert.doesNotMatch(help, /\(default: \[\]\)/);
      // Repeatable options still collect into a list that starts empty.
      for (const o of cmd.options) {
        if (Array.isArray(o.defaultValue)) assert.ok(help.includes(o.flags), `${o.flags} is in the help`);
      }
    });
  }

  it('a usage mistake is one line that names the command\'s help (commander errors go through AliasCommand)', () => {
    const create = commands.find((c) => commandPath(c) === 'aliasid client create')!;
    let written = '';
    const saved = create.configureOutput();
    create.configureOutput({ writeErr: (s) => { written += s; } }).exitOverride();
    try {
      assert.throws(() => create.error("error: unknown option '--nmae'\n(Did you mean --name?)"));
    } finally {
      create.configureOutput(saved);
    }
    assert.equal(written, "aliasid: unknown option '--nmae' (Did you mean --name?); see `aliasid client create --help`\n");
  });
});
