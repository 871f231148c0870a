import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { SyntaxKind } from 'typescript/unstable/ast';
import { API } from 'typescript/unstable/sync';

/** A node of TypeScript's own parse (the compiler's API, as TypeScript 7 serves it). */
interface AstNode {
  readonly kind: SyntaxKind;
  readonly pos: number;
  readonly end: number;
  readonly parent: AstNode;
  readonly name?: AstNode & { readonly text?: string };
  readonly body?: AstNode;
  readonly operatorToken?: AstNode;
  forEachChild(visit: (node: AstNode) => void): void;
}

/**
 * node bench/functions.ts [dir…] — the longest functions under the folders named (lambdas/core by
 * default), with their lines and cyclomatic complexity, longest first.
 *
 * Lines run from a function's first line to its last, blank lines and comments inside included.
 * Complexity is 1 plus each branch point in the function's own body (if, ?:, a loop, a case,
 * catch, &&, ||, ??, and their assignment forms), as ESLint's `complexity` counts it: a function
 * nested inside another is measured on its own and adds nothing to the outer one.
 */

export interface FunctionMeasure {
  readonly file: string;
  readonly name: string;
  readonly line: number;
  readonly lines: number;
  readonly complexity: number;
}

const BRANCH_OPERATORS = new Set([
  SyntaxKind.AmpersandAmpersandToken,
  SyntaxKind.BarBarToken,
  SyntaxKind.QuestionQuestionToken,
  SyntaxKind.AmpersandAmpersandEqualsToken,
  SyntaxKind.BarBarEqualsToken,
  SyntaxKind.QuestionQuestionEqualsToken,
]);

function isBranch(node: AstNode): boolean {
  switch (node.kind) {
    case SyntaxKind.IfStatement:
    case SyntaxKind.ConditionalExpression:
    case SyntaxKind.ForStatement:
    case SyntaxKind.ForInStatement:
    case SyntaxKind.ForOfStatement:
    case SyntaxKind.WhileStatement:
    case SyntaxKind.DoStatement:
    case SyntaxKind.CaseClause:
    case SyntaxKind.CatchClause:
      return true;
    case SyntaxKind.BinaryExpression:
      return node.operatorToken !== undefined && BRANCH_OPERATORS.has(node.operatorToken.kind);
    default:
      return false;
  }
}

const FUNCTION_KINDS = new Set([
  SyntaxKind.FunctionDeclaration,
  SyntaxKind.MethodDeclaration,
  SyntaxKind.Constructor,
  SyntaxKind.GetAccessor,
  SyntaxKind.SetAccessor,
  SyntaxKind.FunctionExpression,
  SyntaxKind.ArrowFunction,
]);

const CLASS_KINDS = new Set([SyntaxKind.ClassDeclaration, SyntaxKind.ClassExpression]);
const NAMING_KINDS = new Set([
  SyntaxKind.VariableDeclaration,
  SyntaxKind.PropertyAssignment,
  SyntaxKind.PropertyDeclaration,
]);

function isFunction(node: AstNode): boolean {
  return FUNCTION_KINDS.has(node.kind) && node.body !== undefined;
}

function complexityOf(fn: AstNode): number {
  let count = 1;
  const visit = (node: AstNode): void => {
    if (isFunction(node)) return;
    if (isBranch(node)) count++;
    node.forEachChild(visit);
  };
  fn.body?.forEachChild(visit);
  return count;
}

function nameOf(fn: AstNode, text: string): string {
  const spelled = (node: AstNode | undefined) => (node ? text.slice(node.pos, node.end).trim() : '');
  const owner = fn.parent;
  const prefix = CLASS_KINDS.has(owner.kind) && owner.name ? `${spelled(owner.name)}.` : '';
  if (fn.kind === SyntaxKind.Constructor) return `${prefix}constructor`;
  if (fn.name) return `${prefix}${spelled(fn.name)}`;
  if (NAMING_KINDS.has(owner.kind)) return spelled(owner.name);
  return '(anonymous)';
}

/** Where a node's own text starts: its position is before the white space and comments that lead it. */
function startOf(node: AstNode, text: string): number {
  const trivia = /(?:\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/)*/y;
  trivia.lastIndex = node.pos;
  trivia.exec(text);
  return trivia.lastIndex;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

export function measureFile(source: AstNode & { readonly text: string }, file: string): FunctionMeasure[] {
  const { text } = source;
  const measures: FunctionMeasure[] = [];
  const visit = (node: AstNode): void => {
    if (isFunction(node)) {
      const start = lineAt(text, startOf(node, text));
      const end = lineAt(text, node.end);
      measures.push({
        file,
        name: nameOf(node, text),
        line: start,
        lines: end - start + 1,
        complexity: complexityOf(node),
      });
    }
    node.forEachChild(visit);
  };
  source.forEachChild(visit);
  return measures;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

if (import.meta.main) {
  const root = process.cwd();
  const dirs = process.argv.slice(2);
  const api = new API({ cwd: root });
  const project = api.updateSnapshot({ openProject: 'tsconfig.json' }).getProjects()[0];
  if (!project) throw new Error('tsconfig.json opened no project');
  const measures = (dirs.length > 0 ? dirs : ['lambdas/core']).flatMap(sourceFiles).flatMap((file) => {
    const source = project.program.getSourceFile(resolve(root, file)) as unknown as
      | (AstNode & { readonly text: string })
      | undefined;
    if (!source) throw new Error(`${file} is not in tsconfig.json's program`);
    return measureFile(source, relative(root, file));
  });
  api.close();
  const byLines = [...measures].sort((a, b) => b.lines - a.lines || b.complexity - a.complexity);
  const byComplexity = [...measures].sort((a, b) => b.complexity - a.complexity || b.lines - a.lines);
  const row = (m: FunctionMeasure) =>
    `${String(m.lines).padStart(5)} lines  complexity ${String(m.complexity).padStart(3)}  ${m.name}  ${m.file}:${m.line}`;
  console.log(`${measures.length} functions`);
  console.log('longest:');
  for (const m of byLines.slice(0, 10)) console.log(row(m));
  console.log('most complex:');
  for (const m of byComplexity.slice(0, 5)) console.log(row(m));
}
