/**
 * The little world the tiny base model learns about, and the deterministic generator of its
 * pretraining corpus. Every sentence is produced by the templates below from these word lists,
 * so the corpus is original text made by this script (Apache-2.0, like the repository): no
 * third-party text is involved.
 */

import { createSeededRandom } from '@peftjs/core';

export interface Animal {
  name: string;
  sound: string;
  food: string;
  home: string;
}

export const ANIMALS: readonly Animal[] = [
  { name: 'cow', sound: 'moo', food: 'grass', home: 'barn' },
  { name: 'dog', sound: 'woof', food: 'bones', home: 'kennel' },
  { name: 'cat', sound: 'meow', food: 'fish', home: 'house' },
  { name: 'duck', sound: 'quack', food: 'bread', home: 'pond' },
  { name: 'sheep', sound: 'baa', food: 'clover', home: 'field' },
  { name: 'pig', sound: 'oink', food: 'apples', home: 'sty' },
  { name: 'horse', sound: 'neigh', food: 'hay', home: 'stable' },
  { name: 'owl', sound: 'hoot', food: 'mice', home: 'tree' },
  { name: 'frog', sound: 'ribbit', food: 'flies', home: 'lake' },
  { name: 'bee', sound: 'buzz', food: 'nectar', home: 'hive' },
  { name: 'lion', sound: 'roar', food: 'meat', home: 'den' },
  { name: 'mouse', sound: 'squeak', food: 'cheese', home: 'hole' },
  { name: 'snake', sound: 'hiss', food: 'eggs', home: 'rocks' },
  { name: 'hen', sound: 'cluck', food: 'corn', home: 'coop' },
  { name: 'crow', sound: 'caw', food: 'seeds', home: 'nest' },
  { name: 'wolf', sound: 'howl', food: 'deer', home: 'forest' },
];

const NAMES = ['tom', 'mia', 'sam', 'lily', 'ben', 'anna', 'max', 'zoe', 'leo', 'emma', 'jack', 'ruby'];
const PLACES = ['park', 'farm', 'shop', 'school', 'river', 'hill', 'garden', 'beach'];
const COLORS = ['red', 'blue', 'green', 'yellow', 'white', 'black', 'pink', 'brown'];
const THINGS = ['ball', 'hat', 'kite', 'box', 'cup', 'book', 'boat', 'bike'];
const FEELINGS = ['happy', 'sleepy', 'hungry', 'glad', 'tired', 'calm'];
const TIMES = ['in the morning', 'at night', 'every day', 'after lunch', 'in the summer', 'on sunday'];

/** A seeded PRNG (core's mulberry32), so the corpus is the same on every machine. */
export const createRandom: (seed: number) => () => number = createSeededRandom;

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

/** One sentence about an animal: its sound, its food or its home, in one of many phrasings. */
function animalSentence(random: Random, animal: Animal, who: string): string {
  const { name, sound, food, home } = animal;
  const templates = [
    () => `the ${name} says ${sound}.`,
    () => `a ${name} says ${sound}.`,
    () => `the ${name} says ${sound} ${pick(random, TIMES)}.`,
    () => `${who} heard the ${name}. it said ${sound}, ${sound}.`,
    () => `when the ${name} is ${pick(random, FEELINGS)}, it says ${sound}.`,
    () => `the ${name} eats ${food}.`,
    () => `a ${name} likes to eat ${food}.`,
    () => `${who} gave ${food} to the ${name}.`,
    () => `the ${name} eats ${food} ${pick(random, TIMES)}.`,
    () => `the ${name} lives in the ${home}.`,
    () => `a ${name} sleeps in the ${home}.`,
    () => `${who} saw a ${name} in the ${home}.`,
    () => `the ${name} went back to the ${home}.`,
    () => `the ${name} lives in the ${home} and eats ${food}.`,
    () => `the ${name} says ${sound} and eats ${food}.`,
  ];
  return pick(random, templates)();
}

function everydaySentence(random: Random, who: string): string {
  const other = pick(random, NAMES);
  const templates = [
    () => `${who} has a ${pick(random, COLORS)} ${pick(random, THINGS)}.`,
    () => `${who} went to the ${pick(random, PLACES)} with ${other}.`,
    () => `${who} is ${pick(random, FEELINGS)}.`,
    () => `${who} and ${other} play in the ${pick(random, PLACES)}.`,
    () => `the ${pick(random, THINGS)} is ${pick(random, COLORS)}.`,
    () => `${who} likes the ${pick(random, COLORS)} ${pick(random, THINGS)}.`,
    () => `${who} walks to the ${pick(random, PLACES)} ${pick(random, TIMES)}.`,
  ];
  return pick(random, templates)();
}

/** A short story: a few sentences about one person and one or two animals. */
export function story(random: Random): string {
  const who = pick(random, NAMES);
  const animals = [pick(random, ANIMALS), pick(random, ANIMALS)];
  const count = 3 + Math.floor(random() * 4);
  const sentences: string[] = [];
  for (let index = 0; index < count; index++) {
    sentences.push(random() < 0.7 ? animalSentence(random, pick(random, animals), who) : everydaySentence(random, who));
  }
  return sentences.join(' ');
}

/** `count` stories, the same for the same seed. */
export function makeCorpus(count: number, seed = 1234): string[] {
  const random = createRandom(seed);
  return Array.from({ length: count }, () => story(random));
}

/** The fine-tuning task: questions about the animals, answered in one sentence. */
export interface QaRow {
  prompt: string;
  completion: string;
}

export function qaRows(animal: Animal): QaRow[] {
  const { name, sound, food, home } = animal;
  return [
    { prompt: `question: what does the ${name} say?\nanswer:`, completion: ` the ${name} says ${sound}.` },
    { prompt: `question: what sound does a ${name} make?\nanswer:`, completion: ` the ${name} says ${sound}.` },
    { prompt: `question: what does the ${name} eat?\nanswer:`, completion: ` the ${name} eats ${food}.` },
    { prompt: `question: what food does a ${name} like?\nanswer:`, completion: ` the ${name} eats ${food}.` },
    { prompt: `question: where does the ${name} live?\nanswer:`, completion: ` the ${name} lives in the ${home}.` },
    { prompt: `question: where is the home of the ${name}?\nanswer:`, completion: ` the ${name} lives in the ${home}.` },
  ];
}

/** Animals whose questions are held out of fine-tuning, to show the adapter generalises. */
export const HELD_OUT = ['cat', 'frog', 'wolf', 'hen'];
