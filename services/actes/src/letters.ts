import { Conflict, NotFound, Repository, type Database } from "@mutualis/service-kit";
import { letterStatuses, type LetterKind, type LetterStatus } from "./domain/letters.ts";

/** A letter of the prefecture about an act, and where its exchange stands. */
export interface Letter {
  /** The act's id and the prefecture's envelope that brought the letter: no other letter has both. */
  _id: string;
  collectivity: string;
  actId: string;
  kind: LetterKind;
  /** The letter's date, by which the collectivity's answers name it. */
  on: string;
  text?: string;
  /** Its files (the letter's PDF, a referral's pieces), kept with the act's exchanges. */
  documents: string[];
  envelope: string;
  status: LetterStatus;
  history: { status: LetterStatus; at: Date; message: string }[];
}

/** The letters about acts, always read for one collectivity. */
export class LetterRepository extends Repository<Letter> {
  constructor(database: Database) {
    super(database, "letters");
  }

  /** Records a letter once: the same envelope delivered again changes nothing. */
  async add(letter: Omit<Letter, "_id" | "history">, at: Date): Promise<void> {
    await this.collection.updateOne(
      { _id: `${letter.actId}/${letter.envelope}` },
      { $setOnInsert: { ...letter, history: [{ status: letter.status, at, message: letter.kind }] } },
      { upsert: true },
    );
  }

  async get(collectivity: string, actId: string, id: string): Promise<Letter> {
    const letter = await this.collection.findOne({ _id: id, collectivity, actId });
    if (!letter) throw new NotFound(`no letter ${id} about act ${actId}`);
    return letter;
  }

  ofAct(collectivity: string, actId: string): Promise<Letter[]> {
    return this.collection.find({ collectivity, actId }).sort({ on: 1, _id: 1 }).toArray();
  }

  /** The letter of this kind and date about the act: what an acknowledgement of the prefecture names. */
  byDate(actId: string, kind: LetterKind, on: string): Promise<Letter | null> {
    return this.collection.findOne({ actId, kind, on });
  }

  /** Moves the letter on if it is still in the status it was read in; a concurrent change is a Conflict. */
  async move(letter: Letter, status: LetterStatus, message: string, at: Date): Promise<void> {
    const result = await this.collection.updateOne(
      { _id: letter._id, status: letter.status },
      { $set: { status }, $push: { history: { status, at, message } } },
    );
    if (result.matchedCount === 0) throw new Conflict(`the letter is no longer "${letterStatuses[letter.status].label}"`);
  }
}
