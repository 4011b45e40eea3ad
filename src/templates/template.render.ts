import type { TemplateComponentInput } from './template.schemas.js'
import type { TemplateComponentRecord } from './template.repository.js'

type Parameters = TemplateComponentInput['parameters']

function fill(text: string, parameters: Parameters | undefined): string {
  const texts = (parameters ?? []).filter((p) => p.type === 'text')
  return text.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (whole, key: string) => {
    const param = /^\d+$/.test(key) ? texts[Number(key) - 1] : texts.find((p) => p.parameter_name === key)
    return param ? param.text : whole
  })
}

/**
 * The text a customer sees for a template message (header, body and footer with the parameters
 * filled in), so dashboards can show it in the conversation. Placeholders without a parameter are
 * left as they are. Null when we do not know the template's text.
 */
export function renderTemplateText(
  templateComponents: TemplateComponentRecord[] | undefined,
  requestComponents: TemplateComponentInput[],
): string | null {
  if (!templateComponents) return null
  const paramsOf = (type: 'header' | 'body') => requestComponents.find((c) => c.type === type)?.parameters
  const lines: string[] = []
  for (const component of templateComponents) {
    const type = component.type.toUpperCase()
    if (!component.text) continue
    if (type === 'HEADER' && (component.format ?? 'TEXT') === 'TEXT')
      lines.push(fill(component.text, paramsOf('header')))
    else if (type === 'BODY') lines.push(fill(component.text, paramsOf('body')))
    else if (type === 'FOOTER') lines.push(component.text)
  }
  return lines.length ? lines.join('\n') : null
}
