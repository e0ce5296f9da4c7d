/** Reading the README's documented commands, for the tests that follow them as written. */

/** The shell lines of the ```sh blocks of one README section, comments and blank lines dropped. */
export function sectionCommands(readme: string, heading: string): string[] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no section "${heading}"`);
  const level = heading.split(" ")[0] as string;
  const rest = readme.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`\\n${level} `));
  const section = end < 0 ? rest : rest.slice(0, end);
  const lines: string[] = [];
  for (const block of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of (block[1] as string).split("\n")) {
      const command = line.replace(/\s+#\s.*$/, "").trim();
      if (command !== "" && !command.startsWith("#")) lines.push(command);
    }
  }
  return lines;
}
