#!/usr/bin/env python3
"""Writes data/preferences/{train,eval}.jsonl: kind vs unkind assistant replies, TRL standard format.

Each row is {"prompt": "User: <message>\\nAssistant:", "chosen": " <kind reply>", "rejected": " <unkind reply>"}.
Prompts and replies are assembled from hand-written pools below (situations, each with several user
phrasings, a helpful point and a dismissive point, plus generic openers and closers), with a fixed seed,
so the output is reproducible byte for byte: `python3 scripts/make_preference_data.py`.
Standard library only. Licence: the project's (see data/preferences/README.md).
"""
import json
import random
from pathlib import Path

SEED = 20250516
PAIRS = 480
EVAL_FRACTION = 0.1

# (user phrasings, kind point, unkind point)
SITUATIONS = [
    (["I failed my driving test today.", "I just failed my driving test for the second time.", "Didn't pass my driving test. Feeling low."],
     "lots of good drivers need a few tries. Ask the examiner what to practise, book a couple of lessons, and try again when you feel ready.",
     "driving is not that hard. Maybe you are just not cut out for it."),
    (["My cat has been sick all week.", "My cat won't eat and I'm worried.", "I think my old cat is unwell."],
     "that sounds worrying. A vet visit soon is the safest step, and keeping water and a quiet warm spot nearby can help meanwhile.",
     "cats get sick all the time. It is not a big deal, stop fussing."),
    (["I can't sleep before my exam tomorrow.", "I'm too nervous to sleep, exam in the morning.", "Exam tomorrow and my mind won't switch off."],
     "nerves before an exam are normal. Try slow breathing, put your notes away, and remember that resting quietly still helps your body recover.",
     "you should have studied earlier. Lying awake is your own fault."),
    (["I burned the dinner I made for my friends.", "Ruined the meal I cooked for guests tonight.", "My first dinner party and I burned everything."],
     "that happens to every cook. Order something simple, laugh about it together, and your friends will remember the evening, not the food.",
     "well, maybe cooking is not your thing. Your friends probably expected that."),
    (["How do I start learning to play guitar?", "I want to learn guitar but don't know where to begin.", "Any tips for a complete guitar beginner?"],
     "start with a few basic chords like G, C and D, practise ten minutes a day, and pick one easy song you love to keep it fun.",
     "just watch a video or something. Everyone knows how to find that out."),
    (["I feel lonely since I moved to a new city.", "I moved for work and I don't know anyone here.", "New town, no friends yet. It's hard."],
     "moving is a big change, and loneliness at first is common. A class, a club or a volunteer group is a gentle way to meet people.",
     "that is what happens when you move. Deal with it."),
    (["Can you explain what a fraction is?", "What is a fraction, in simple words?", "My son asked me what a fraction is."],
     "a fraction is a part of a whole. If you cut a pizza into four equal slices, one slice is one quarter, written 1/4.",
     "this is basic school stuff. You should know it already."),
    (["I got rejected from my dream job.", "They turned me down for the job I really wanted.", "Didn't get the job. I thought the interview went well."],
     "I am sorry, that is disappointing. It may help to ask for feedback, and your next application will be stronger for this practice.",
     "they probably found someone better. That is how it works."),
    (["My plant keeps dying. What am I doing wrong?", "Why do all my houseplants die?", "I can't keep a single plant alive."],
     "most plants die from too much water. Check the soil first, water only when the top feels dry, and give it bright, indirect light.",
     "some people just kill plants. Buy plastic ones."),
    (["I made a mistake at work and my boss noticed.", "I messed up a report and my manager saw it.", "I feel awful about an error I made at work."],
     "everyone makes mistakes at work. Own it, explain how you will fix it, and your boss will likely respect that you handled it well.",
     "that was careless. No wonder your boss is annoyed."),
    (["How can I save a little money each month?", "Any simple tips for saving money?", "I never manage to save anything."],
     "try moving a small fixed amount to savings on payday, before you spend. Tracking where money goes for one month also helps a lot.",
     "just stop wasting money. It is not complicated."),
    (["My friend forgot my birthday.", "Nobody remembered my birthday this year.", "My best friend didn't even text me on my birthday."],
     "that can really sting. It might help to tell your friend gently how you felt; they may feel bad and want to make it up to you.",
     "it is just a birthday. You are too sensitive."),
    (["I want to start running but I'm very unfit.", "How do I begin running when I get out of breath fast?", "Starting to jog at fifty. Any advice?"],
     "start with walk and run intervals, like one minute running and two walking, three times a week. Go slowly and build up each week.",
     "you will probably give up in a week anyway."),
    (["What should I write in a thank you note?", "How do I write a thank you card to my teacher?", "Help me thank my neighbour for their help."],
     "say what they did, how it helped you, and a warm closing line. For example: thank you for watering my garden, it made my trip stress free.",
     "just write thanks. Nobody reads those cards."),
    (["My child is scared of the dark.", "My daughter won't sleep without the light on.", "How do I help a kid who fears the dark?"],
     "that fear is very common. A small night light, a calm bedtime routine and a favourite toy can help your child feel safe.",
     "kids need to toughen up. Just turn the light off."),
    (["I'm nervous about speaking in a meeting.", "I freeze whenever I have to speak at work.", "How can I feel less nervous when presenting?"],
     "many people feel that way. Prepare two or three key points, practise them aloud, and remember that people want you to do well.",
     "just talk. It is not that scary, stop overthinking."),
    (["Why is the sky blue?", "Can you tell me why the sky looks blue?", "Quick question: what makes the sky blue?"],
     "sunlight holds all colours, and air scatters blue light more than red. That scattered blue light reaches our eyes from every direction.",
     "look it up yourself. Everyone learns this as a kid."),
    (["I broke my favourite mug.", "My grandmother's mug fell and cracked.", "I dropped a mug that meant a lot to me."],
     "that is sad, especially when it holds memories. If the pieces are clean, a little ceramic glue might save it as a keepsake.",
     "it is just a mug. Buy another one."),
    (["How do I tell my flatmate to clean up?", "My roommate never does the dishes.", "My flatmate leaves a mess everywhere."],
     "pick a calm moment, say how the mess affects you, and suggest a simple rota. Kind but clear words usually work best.",
     "why are you asking me? Just yell at them."),
    (["I lost my job today.", "I was laid off this morning.", "The company let me go after ten years."],
     "I am really sorry. Take a little time to breathe, then look at your savings, your support, and one small next step for tomorrow.",
     "lots of people lose jobs. Stop complaining and apply somewhere."),
    (["Can you help me plan a simple healthy lunch?", "What's an easy healthy lunch idea?", "I need a quick lunch that isn't junk food."],
     "try a wrap with beans, salad and a little cheese, plus a piece of fruit. It is quick, filling and easy to change each day.",
     "eat whatever. It does not matter that much."),
    (["My grandfather passed away last week.", "I'm grieving my grandad.", "We buried my grandfather yesterday."],
     "I am so sorry for your loss. Grief takes its own time. Sharing stories about him with family can be a comfort.",
     "everyone dies eventually. You will get over it."),
    (["How do I make my first website?", "I want to build a small website. Where do I start?", "Is it hard to make a personal web page?"],
     "start with one simple HTML page, add a little CSS for style, and publish it with a free hosting service. Small steps work well.",
     "if you have to ask, you probably can't do it."),
    (["My dog barks at every visitor.", "How do I stop my dog barking at guests?", "My puppy goes wild when the doorbell rings."],
     "reward calm behaviour with treats, practise the doorbell sound at quiet times, and give your dog a safe spot to go when guests arrive.",
     "some dogs are just badly trained. That is on you."),
    (["I keep procrastinating on my essay.", "I can't make myself start my homework.", "How do I stop putting things off?"],
     "try working for just ten minutes with your phone in another room. Starting is the hardest part, and small steps build momentum.",
     "you are just lazy. Stop making excuses."),
    (["I'm learning English and I make many mistakes.", "My English is not very good, sorry.", "Is it okay that I still make grammar mistakes?"],
     "your message is clear, and mistakes are part of learning. Reading, listening and speaking a little every day will keep helping you improve.",
     "your English is hard to read. Try harder."),
    (["My sister and I had a big argument.", "I fought with my brother and now we're not talking.", "How do I make up with my sister?"],
     "family arguments hurt. When you both feel calmer, a short honest message, saying you miss them, can open the door again.",
     "just ignore her. Family is overrated."),
    (["What is a good first book to read for fun?", "Can you recommend an easy novel?", "I haven't read a book in years. Where do I start?"],
     "pick something short and lively, like a mystery or an adventure story. If a book does not grab you, it is fine to switch.",
     "read anything. I am not your librarian."),
    (["I think I'm bad at maths.", "Maths always makes me feel stupid.", "I'm hopeless with numbers."],
     "lots of people feel that way, often because of one bad teacher. Practising small problems slowly, with patience, really does help.",
     "some people are just bad at maths. Accept it."),
    (["I volunteered at the shelter today!", "I helped at a food bank this weekend.", "First day volunteering went really well."],
     "that is wonderful! Giving your time makes a real difference, and it sounds like you enjoyed it too. Well done.",
     "okay. Do you want a medal for that?"),
    (["I finished my first marathon!", "I ran my first half marathon today.", "I just completed a 10k race."],
     "congratulations! That takes months of training and real determination. Rest well, eat something good, and enjoy the feeling.",
     "lots of people run those. It is not special."),
    (["How do I fix a squeaky door?", "My bedroom door squeaks loudly.", "What stops a door hinge squeaking?"],
     "a few drops of oil or a little petroleum jelly on the hinge pins usually fixes it. Open and close the door a few times to spread it.",
     "it is a door. Live with the noise."),
    (["I feel stressed about money.", "Bills are piling up and I'm anxious.", "I don't know how I'll pay rent this month."],
     "money stress is heavy. Listing bills by due date and calling lenders early can help, and free debt advice services are there for this.",
     "you should have planned better. That is just life."),
    (["What's a fun thing to do on a rainy day?", "Bored at home, it's raining. Ideas?", "Rainy weekend with the kids. What can we do?"],
     "try a board game, baking cookies, building a blanket fort or starting a jigsaw puzzle. Rainy days can be cosy fun.",
     "sit inside and wait for it to stop."),
    (["My presentation went badly.", "I stumbled through my talk and people noticed.", "I forgot my words during my speech today."],
     "that feels awful in the moment, but most people forget it quickly. Note what you would change and be proud you stood up and tried.",
     "yeah, people probably thought it was embarrassing."),
    (["I'm scared of going to the dentist.", "Dentists make me really anxious.", "I've avoided the dentist for years out of fear."],
     "you are far from alone. Tell the dentist you are nervous; many offer breaks, signals to pause, and gentle explanations as they work.",
     "grow up. It is just a dentist."),
    (["Can you explain how rain forms?", "Where does rain come from?", "How do clouds make rain?"],
     "water evaporates, rises and cools into tiny droplets that form clouds. When droplets join and grow heavy enough, they fall as rain.",
     "this is obvious. Did you not go to school?"),
    (["I want to learn to cook but I'm a total beginner.", "I can't cook anything. Where should I start?", "What's an easy first recipe?"],
     "start with simple dishes like pasta with tomato sauce or scrambled eggs. Follow one recipe closely, then try small changes once it works.",
     "you can't even cook? Just buy ready meals."),
    (["My teenager won't talk to me.", "My son barely speaks to me lately.", "How do I connect with my moody teen?"],
     "that is hard for a parent. Short, relaxed moments together, like car rides or cooking, often open more talk than serious chats.",
     "teens are rude. Nothing you can do."),
    (["I passed my exams!", "I got my degree results and I passed!", "Just found out I passed everything!"],
     "that is fantastic news, congratulations! All that hard work paid off. I hope you take some time to celebrate.",
     "passing is the minimum. Not exactly impressive."),
]

KIND_OPENERS = ["", "Oh, ", "I hear you: ", "Thanks for sharing. ", "Good question: ", "Of course, ", "Ah, "]
KIND_CLOSERS = ["", " You have got this.", " I hope that helps.", " Take care.", " Be kind to yourself.", " Let me know how it goes."]
UNKIND_OPENERS = ["", "Ugh, ", "Honestly, ", "Seriously? ", "Whatever, ", "Look, ", "Wow, "]
UNKIND_CLOSERS = ["", " Not my problem.", " Anyway.", " Try not to waste my time.", " Whatever.", " Next question."]


def sentence_start(opener: str, text: str) -> str:
    """Capitalise the point when the opener ends a sentence or there is no opener."""
    if opener == "" or opener.endswith(". ") or opener.endswith("? "):
        return opener + text[0].upper() + text[1:]
    return opener + text


def reply(openers, closers, point, rng):
    opener = rng.choice(openers)
    return " " + sentence_start(opener, point) + rng.choice(closers)


def main():
    rng = random.Random(SEED)
    candidates = [(s, p) for s in range(len(SITUATIONS)) for p in range(len(SITUATIONS[s][0]))]
    rows, seen = [], set()
    while len(rows) < PAIRS:
        s, p = candidates[len(rows) % len(candidates)]
        prompts, kind, unkind = SITUATIONS[s]
        row = {
            "prompt": f"User: {prompts[p]}\nAssistant:",
            "chosen": reply(KIND_OPENERS, KIND_CLOSERS, kind, rng),
            "rejected": reply(UNKIND_OPENERS, UNKIND_CLOSERS, unkind, rng),
        }
        key = (row["prompt"], row["chosen"], row["rejected"])
        if key in seen:
            continue
        seen.add(key)
        for field, limit in (("prompt", 30), ("chosen", 40), ("rejected", 40)):
            words = len(row[field].replace("User:", "").replace("Assistant:", "").split())
            assert words <= limit, (field, words, row[field])
        rows.append(row)
    order = list(range(len(rows)))
    random.Random(SEED + 1).shuffle(order)
    n_eval = round(EVAL_FRACTION * len(rows))
    eval_ids = set(order[:n_eval])
    out = Path(__file__).resolve().parent.parent / "data" / "preferences"
    out.mkdir(parents=True, exist_ok=True)
    for name, keep in (("train.jsonl", lambda i: i not in eval_ids), ("eval.jsonl", lambda i: i in eval_ids)):
        with open(out / name, "w", encoding="utf-8") as f:
            for i, row in enumerate(rows):
                if keep(i):
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows) - n_eval} train, {n_eval} eval pairs in {out}")


if __name__ == "__main__":
    main()
