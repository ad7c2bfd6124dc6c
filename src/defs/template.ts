// A deliberately tiny template language for definition strings: `{{.Name}}` or
// `{{ .Distro.MajorVersion }}` substitutes a value from the context; nothing else is supported.
const PLACEHOLDER = /\{\{\s*\.([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*)\s*\}\}/g;

export type TemplateContext = { [k: string]: string | number | TemplateContext | undefined };

/** Variables a template uses, e.g. ["Distro.Name", "Arch"]; throws on `{{` that is not a placeholder. */
export function templateVariables(tmpl: string): string[] {
  const vars: string[] = [];
  const stripped = tmpl.replace(PLACEHOLDER, (_m, name: string) => {
    vars.push(name);
    return '';
  });
  if (stripped.includes('{{') || stripped.includes('}}')) {
    throw new Error(`malformed template "${tmpl}": placeholders look like {{.Name}} or {{.Distro.MajorVersion}}`);
  }
  return vars;
}

export function renderTemplate(tmpl: string, ctx: TemplateContext): string {
  templateVariables(tmpl);
  return tmpl.replace(PLACEHOLDER, (_m, name: string) => {
    let cur: string | number | TemplateContext | undefined = ctx;
    for (const part of name.split('.')) {
      cur = typeof cur === 'object' && cur !== null ? cur[part] : undefined;
    }
    if (typeof cur !== 'string' && typeof cur !== 'number') {
      throw new Error(`template "${tmpl}" uses unknown variable .${name}`);
    }
    return String(cur);
  });
}
