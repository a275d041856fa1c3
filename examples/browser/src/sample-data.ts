/**
 * The training data the page starts with. For the demo base (a tiny LLaMA that read short stories
 * about animals, examples/tiny-lm), question/answer rows in a format it never saw: a few dozen
 * steps teach it to answer, also about animals missing here (the cat). For a model without a
 * tokenizer, rows of token ids with a repeating pattern.
 */
const QUESTIONS: Array<[question: string, answer: string]> = [
  ['what does the cow say?', ' the cow says moo.'],
  ['what sound does a cow make?', ' the cow says moo.'],
  ['what food does a cow like?', ' the cow eats grass.'],
  ['where does the cow live?', ' the cow lives in the barn.'],
  ['what does the dog say?', ' the dog says woof.'],
  ['what sound does a dog make?', ' the dog says woof.'],
  ['what food does a dog like?', ' the dog eats bones.'],
  ['where does the dog live?', ' the dog lives in the kennel.'],
  ['what does the duck say?', ' the duck says quack.'],
  ['what sound does a duck make?', ' the duck says quack.'],
  ['what food does a duck like?', ' the duck eats bread.'],
  ['where does the duck live?', ' the duck lives in the pond.'],
  ['what does the sheep say?', ' the sheep says baa.'],
  ['what sound does a sheep make?', ' the sheep says baa.'],
  ['what food does a sheep like?', ' the sheep eats clover.'],
  ['where does the sheep live?', ' the sheep lives in the field.'],
  ['what does the pig say?', ' the pig says oink.'],
  ['what sound does a pig make?', ' the pig says oink.'],
  ['what food does a pig like?', ' the pig eats apples.'],
  ['where does the pig live?', ' the pig lives in the sty.'],
  ['what does the horse say?', ' the horse says neigh.'],
  ['what sound does a horse make?', ' the horse says neigh.'],
  ['what food does a horse like?', ' the horse eats hay.'],
  ['where does the horse live?', ' the horse lives in the stable.'],
];

export const SAMPLE_QA_JSONL = `${QUESTIONS.map(([question, answer]) => JSON.stringify({ prompt: `question: ${question}\nanswer:`, completion: answer })).join('\n')}\n`;

export const SAMPLE_PROMPT = 'question: what does the cat say?\nanswer:';

/** Token-id rows (models without tokenizer.json): the sequence 5 6 7 8 repeated from a varying start. */
export function sampleIdRows(vocabSize: number, count = 16): string {
  const pattern = [5, 6, 7, 8].map((id) => id % vocabSize);
  return `${Array.from({ length: count }, (_, row) => JSON.stringify({ input_ids: Array.from({ length: 12 }, (_, index) => pattern[(row + index) % 4]) })).join('\n')}\n`;
}

export const SAMPLE_ID_PROMPT = '5 6 7';
