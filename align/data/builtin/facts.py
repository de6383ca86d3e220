"""Hand-written fact tables and procedural helpful Q/A (synthetic): capitals, animal facts,
opposites, plurals, definitions, how-tos, unit conversions and small list/word tasks.

Every item is (group, question, answer); `chat.py` splits by group, so one fact never
appears in both train and test, whatever the phrasing. Answers are short and checkable.
"""
from __future__ import annotations

from ._common import rng

CAPITALS = (
    ("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Portugal", "Lisbon"),
    ("the United Kingdom", "London"), ("Ireland", "Dublin"), ("the Netherlands", "Amsterdam"),
    ("Belgium", "Brussels"), ("Switzerland", "Bern"), ("Austria", "Vienna"), ("Poland", "Warsaw"),
    ("the Czech Republic", "Prague"), ("Hungary", "Budapest"), ("Greece", "Athens"), ("Sweden", "Stockholm"),
    ("Norway", "Oslo"), ("Finland", "Helsinki"), ("Denmark", "Copenhagen"), ("Iceland", "Reykjavik"),
    ("Russia", "Moscow"), ("Ukraine", "Kyiv"), ("Turkey", "Ankara"), ("Romania", "Bucharest"),
    ("Bulgaria", "Sofia"), ("Serbia", "Belgrade"), ("Croatia", "Zagreb"), ("Egypt", "Cairo"),
    ("Kenya", "Nairobi"), ("Nigeria", "Abuja"), ("Morocco", "Rabat"), ("Ghana", "Accra"),
    ("Ethiopia", "Addis Ababa"), ("Japan", "Tokyo"), ("China", "Beijing"), ("South Korea", "Seoul"),
    ("India", "New Delhi"), ("Pakistan", "Islamabad"), ("Bangladesh", "Dhaka"), ("Nepal", "Kathmandu"),
    ("Thailand", "Bangkok"), ("Vietnam", "Hanoi"), ("the Philippines", "Manila"), ("Malaysia", "Kuala Lumpur"),
    ("Australia", "Canberra"), ("New Zealand", "Wellington"), ("Canada", "Ottawa"),
    ("the United States", "Washington, D.C."), ("Mexico", "Mexico City"), ("Brazil", "Brasilia"),
    ("Argentina", "Buenos Aires"), ("Chile", "Santiago"), ("Peru", "Lima"), ("Colombia", "Bogota"),
    ("Cuba", "Havana"), ("Iran", "Tehran"), ("Iraq", "Baghdad"), ("Saudi Arabia", "Riyadh"),
)
LEGS = (("spider", 8), ("ant", 6), ("bee", 6), ("beetle", 6), ("butterfly", 6), ("dog", 4), ("cat", 4),
        ("horse", 4), ("cow", 4), ("elephant", 4), ("chicken", 2), ("duck", 2), ("ostrich", 2), ("penguin", 2),
        ("crab", 10), ("lobster", 10), ("snake", 0), ("goldfish", 0), ("scorpion", 8), ("frog", 4))
SOUNDS = (("cow", "moos"), ("dog", "barks"), ("cat", "meows"), ("duck", "quacks"), ("lion", "roars"),
          ("sheep", "bleats"), ("horse", "neighs"), ("pig", "oinks"), ("owl", "hoots"), ("snake", "hisses"),
          ("bee", "buzzes"), ("frog", "croaks"), ("mouse", "squeaks"), ("wolf", "howls"), ("rooster", "crows"),
          ("donkey", "brays"))
BABIES = (("cat", "kitten"), ("dog", "puppy"), ("cow", "calf"), ("sheep", "lamb"), ("horse", "foal"),
          ("goat", "kid"), ("frog", "tadpole"), ("kangaroo", "joey"), ("duck", "duckling"), ("swan", "cygnet"),
          ("bear", "cub"), ("lion", "cub"), ("pig", "piglet"), ("deer", "fawn"), ("goose", "gosling"),
          ("owl", "owlet"), ("hen", "chick"), ("whale", "calf"))
OPPOSITES = (("hot", "cold"), ("big", "small"), ("up", "down"), ("fast", "slow"), ("happy", "sad"),
             ("open", "closed"), ("early", "late"), ("light", "dark"), ("full", "empty"), ("hard", "soft"),
             ("loud", "quiet"), ("old", "new"), ("rich", "poor"), ("strong", "weak"), ("tall", "short"),
             ("wet", "dry"), ("begin", "end"), ("buy", "sell"), ("push", "pull"), ("win", "lose"),
             ("always", "never"), ("inside", "outside"), ("remember", "forget"), ("accept", "refuse"),
             ("arrive", "leave"), ("thick", "thin"), ("cheap", "expensive"), ("heavy", "light"),
             ("question", "answer"), ("friend", "enemy"))
PLURALS = (("child", "children"), ("mouse", "mice"), ("goose", "geese"), ("tooth", "teeth"), ("foot", "feet"),
           ("man", "men"), ("woman", "women"), ("person", "people"), ("leaf", "leaves"), ("knife", "knives"),
           ("wolf", "wolves"), ("box", "boxes"), ("city", "cities"), ("baby", "babies"), ("bus", "buses"),
           ("potato", "potatoes"), ("sheep", "sheep"), ("ox", "oxen"), ("half", "halves"), ("cactus", "cacti"),
           ("fish", "fish"), ("life", "lives"), ("hero", "heroes"), ("church", "churches"), ("party", "parties"))
DEFINITIONS = (
    ("photosynthesis", "the process plants use to turn sunlight, water and carbon dioxide into sugar and oxygen"),
    ("gravity", "the force that pulls objects towards each other, such as things falling towards the Earth"),
    ("democracy", "a system of government in which people choose their leaders by voting"),
    ("an algorithm", "a step-by-step set of instructions for solving a problem or doing a task"),
    ("a noun", "a word that names a person, place, thing or idea, such as 'dog' or 'city'"),
    ("a verb", "a word that describes an action or state, such as 'run' or 'be'"),
    ("an adjective", "a word that describes a noun, such as 'red' or 'happy'"),
    ("evaporation", "the change of a liquid into a gas, like water drying up in the sun"),
    ("a mammal", "a warm-blooded animal with hair or fur that feeds its young with milk"),
    ("an ecosystem", "a community of living things together with their environment"),
    ("inflation", "a general rise in prices over time, so money buys less than before"),
    ("a budget", "a plan for how much money you will earn and spend over a period"),
    ("a prime number", "a whole number greater than 1 whose only divisors are 1 and itself, like 7 or 13"),
    ("a fraction", "a number that shows part of a whole, such as 1/2 or 3/4"),
    ("a variable", "a name in a program that stores a value so you can use it later"),
    ("a function", "a named block of code in a program that does a task and can be reused"),
    ("a loop", "a piece of code that repeats a set of steps several times"),
    ("a synonym", "a word that means the same or nearly the same as another word, like 'big' and 'large'"),
    ("an antonym", "a word with the opposite meaning of another word, like 'hot' and 'cold'"),
    ("a volcano", "an opening in the Earth's crust where melted rock, ash and gas escape"),
    ("climate", "the usual weather of a place over many years"),
    ("an atom", "the smallest unit of a chemical element"),
    ("a molecule", "a group of atoms bonded together, such as H2O, a water molecule"),
    ("a planet", "a large body that orbits a star, like the Earth orbits the Sun"),
    ("a habitat", "the natural home of an animal or plant"),
    ("recycling", "turning used materials such as paper, glass and plastic into new products"),
    ("a metaphor", "a figure of speech that describes something as if it were something else, like 'time is money'"),
    ("a haiku", "a short Japanese poem of three lines with 5, 7 and 5 syllables"),
    ("a compiler", "a program that translates source code into machine code a computer can run"),
    ("a browser", "a program for viewing web pages, such as Firefox or Chrome"),
    ("a password manager", "an app that stores your passwords securely and can create strong ones"),
    ("an index fund", "an investment fund that follows a market index, such as the 500 largest US companies"),
    ("interest", "money paid for the use of money, such as what a bank pays on savings"),
    ("erosion", "the slow wearing away of rock and soil by wind, water or ice"),
    ("a thermometer", "a tool for measuring temperature"),
    ("a peninsula", "a piece of land almost surrounded by water"),
    ("a continent", "one of the seven large land masses, such as Africa or Asia"),
    ("a vaccine", "a substance that trains the immune system to fight a disease"),
    ("a calorie", "a unit of energy, often used to measure the energy in food"),
    ("a spreadsheet", "a program that arranges data in rows and columns and can calculate with it"),
)
HOWTOS = (
    ("How do I boil an egg?", "Put the egg in boiling water for about 7 minutes for a firm yolk or 5 for a soft one, then cool it in cold water."),
    ("How do I make a cup of tea?", "Boil water, pour it over a tea bag in a mug, leave it for 3 to 5 minutes, remove the bag, and add milk or sugar if you like."),
    ("How do I tie a tie?", "For a simple four-in-hand knot: cross the wide end over the narrow end, wrap it around once, bring it up through the neck loop, and pull it down through the front knot."),
    ("How do I change a light bulb?", "Switch off the power, let the old bulb cool, twist or pull it out, and fit a new bulb of the same type and wattage."),
    ("How do I save a file in Word?", "Press Ctrl+S (Cmd+S on a Mac), choose a folder and a name, and click Save."),
    ("How do I take a screenshot on Windows?", "Press Windows+Shift+S to select an area, or press PrtScn to copy the whole screen."),
    ("How do I take a screenshot on a Mac?", "Press Cmd+Shift+3 for the whole screen or Cmd+Shift+4 to select an area. The picture is saved to the desktop."),
    ("How do I make rice?", "Rinse 1 cup of rice, add 2 cups of water and a pinch of salt, bring to a boil, then cover and simmer on low for 15 to 18 minutes."),
    ("How do I plant a seed?", "Fill a pot with moist compost, push the seed in about twice as deep as its size, cover it, keep it warm and water it gently."),
    ("How do I write a good email?", "Use a clear subject line, greet the person, get to the point in the first sentence, keep it short, and end with a polite sign-off."),
    ("How do I start running?", "Begin with run-walk intervals three times a week, for example 1 minute running and 2 walking, and add a little more running each week."),
    ("How do I clean a laptop screen?", "Turn it off, wipe gently with a dry microfibre cloth, and use a cloth slightly damp with water for marks. Never spray liquid on the screen."),
    ("How do I make a paper airplane?", "Fold a sheet in half lengthwise, fold the top corners to the centre line, fold the new edges to the centre again, then fold it in half and fold down the wings."),
    ("How do I remember names better?", "Repeat the name when you hear it, use it in the conversation, and link it to something about the person."),
    ("How do I create a Python virtual environment?", "Run `python -m venv .venv`, then activate it with `source .venv/bin/activate` (or `.venv\\Scripts\\activate` on Windows)."),
    ("How do I install a Python package?", "Run `pip install package-name` in your terminal, ideally inside a virtual environment."),
    ("How do I undo my last git commit?", "Run `git reset --soft HEAD~1` to undo the commit but keep the changes staged."),
    ("How do I check my Python version?", "Run `python --version` (or `python3 --version`) in a terminal."),
    ("How do I make pancakes?", "Whisk 1 cup of flour, 1 cup of milk, 1 egg and a pinch of salt, then cook ladlefuls in a hot oiled pan for about a minute on each side."),
    ("How do I water a cactus?", "Water it deeply only when the soil is completely dry, about every two to three weeks in summer and much less in winter."),
    ("How do I fold a fitted sheet?", "Tuck the corners into each other in pairs, lay it flat, fold the edges in to make a rectangle, and fold it into a square."),
    ("How do I calm down quickly?", "Breathe in slowly for four seconds, hold for four, breathe out for six, and repeat a few times."),
    ("How do I read a bar chart?", "Read the title and the axis labels, then compare the heights of the bars: taller bars mean larger values."),
    ("How do I find the area of a rectangle?", "Multiply its length by its width. A 3 by 4 rectangle has an area of 12 square units."),
    ("How do I find the average of some numbers?", "Add the numbers together and divide by how many there are. The average of 2, 4 and 6 is 12 / 3 = 4."),
    ("How do I convert a percentage to a decimal?", "Divide it by 100. For example, 25% is 0.25."),
    ("How do I open a jar that is stuck?", "Run the lid under hot water for a minute, then grip it with a rubber glove or a towel and twist."),
    ("How do I keep cut flowers fresh?", "Trim the stems at an angle, remove leaves below the water line, and change the water every two days."),
    ("How do I make my phone battery last longer?", "Lower the screen brightness, turn on battery saver, close apps that use location, and turn off Bluetooth when you don't need it."),
    ("How do I write a to-do list that works?", "Write down everything, pick the three most important tasks for today, and break big tasks into small steps."),
)
SIMPLE_FACTS = (
    ("How many days are in a week?", "There are 7 days in a week."),
    ("How many days are in a leap year?", "A leap year has 366 days."),
    ("How many months are in a year?", "There are 12 months in a year."),
    ("How many minutes are in an hour?", "There are 60 minutes in an hour."),
    ("How many hours are in a day?", "There are 24 hours in a day."),
    ("How many continents are there?", "There are seven continents: Africa, Antarctica, Asia, Australia, Europe, North America and South America."),
    ("How many planets are in the solar system?", "There are eight planets in the solar system."),
    ("Which planet is closest to the Sun?", "Mercury is the planet closest to the Sun."),
    ("What is the largest planet in the solar system?", "Jupiter is the largest planet in the solar system."),
    ("Which planet is known as the Red Planet?", "Mars is known as the Red Planet."),
    ("What is the largest ocean on Earth?", "The Pacific Ocean is the largest ocean on Earth."),
    ("What is the boiling point of water at sea level?", "Water boils at 100 degrees Celsius (212 degrees Fahrenheit) at sea level."),
    ("What is the freezing point of water?", "Water freezes at 0 degrees Celsius (32 degrees Fahrenheit)."),
    ("What gas do plants take in from the air?", "Plants take in carbon dioxide and release oxygen."),
    ("What gas do humans need to breathe?", "Humans need oxygen to breathe."),
    ("What is the chemical formula for water?", "The chemical formula for water is H2O."),
    ("What is the chemical symbol for gold?", "The chemical symbol for gold is Au."),
    ("What is the chemical symbol for iron?", "The chemical symbol for iron is Fe."),
    ("How many sides does a triangle have?", "A triangle has 3 sides."),
    ("How many sides does a hexagon have?", "A hexagon has 6 sides."),
    ("How many sides does an octagon have?", "An octagon has 8 sides."),
    ("How many degrees are in a right angle?", "A right angle is 90 degrees."),
    ("How many degrees are in a circle?", "A full circle has 360 degrees."),
    ("What is the largest mammal?", "The blue whale is the largest mammal."),
    ("What is the fastest land animal?", "The cheetah is the fastest land animal."),
    ("What do bees make?", "Bees make honey and beeswax."),
    ("What colour do you get when you mix blue and yellow?", "Mixing blue and yellow makes green."),
    ("What colour do you get when you mix red and white?", "Mixing red and white makes pink."),
    ("What colour do you get when you mix red and blue?", "Mixing red and blue makes purple."),
    ("What colour do you get when you mix red and yellow?", "Mixing red and yellow makes orange."),
    ("What are the three primary colours of paint?", "The traditional primary colours of paint are red, yellow and blue."),
    ("What is the tallest mountain in the world?", "Mount Everest is the tallest mountain above sea level, at about 8,849 metres."),
    ("What is the longest river in Africa?", "The Nile is the longest river in Africa."),
    ("Who wrote Romeo and Juliet?", "William Shakespeare wrote Romeo and Juliet."),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci painted the Mona Lisa."),
    ("What is the square root of 81?", "The square root of 81 is 9."),
    ("What is the square root of 144?", "The square root of 144 is 12."),
    ("How many bones are in the adult human body?", "An adult human has 206 bones."),
    ("What organ pumps blood around the body?", "The heart pumps blood around the body."),
    ("What is the hardest natural substance?", "Diamond is the hardest natural substance."),
    ("What language has the most native speakers?", "Mandarin Chinese has the most native speakers."),
    ("How many players are on a football (soccer) team on the field?", "Each team has 11 players on the field."),
    ("How many strings does a standard guitar have?", "A standard guitar has six strings."),
    ("What is the smallest prime number?", "The smallest prime number is 2."),
    ("How many centimetres are in a metre?", "There are 100 centimetres in a metre."),
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WORDS = ("apple", "river", "garden", "window", "pencil", "rocket", "yellow", "planet", "bridge", "candle", "forest",
         "guitar", "island", "jacket", "kitten", "ladder", "magnet", "orange", "pepper", "rabbit", "silver", "ticket",
         "violin", "winter", "anchor", "butter", "castle", "dragon", "engine", "flower", "hammer", "lemon", "monkey",
         "number", "ocean", "puzzle", "summer", "tomato", "camera", "basket", "cloud", "tiger", "train", "house",
         "music", "paper", "table", "water", "zebra", "pizza", "chair", "storm", "light", "green", "smile", "horse")
UNITS = (("kilometres", "metres", 1000, "kilometre"), ("metres", "centimetres", 100, "metre"),
         ("hours", "minutes", 60, "hour"), ("minutes", "seconds", 60, "minute"), ("days", "hours", 24, "day"),
         ("weeks", "days", 7, "week"), ("kilograms", "grams", 1000, "kilogram"), ("litres", "millilitres", 1000, "litre"),
         ("feet", "inches", 12, "foot"), ("yards", "feet", 3, "yard"), ("dozen", "items", 12, "dozen"))


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _fixed_items() -> list[tuple[str, str, str]]:
    r = rng("facts-fixed")
    out = []
    for country, city in CAPITALS:
        q = r.choice(("What is the capital of {}?", "Which city is the capital of {}?", "Name the capital of {}."))
        out.append((f"capital:{country}", q.format(country), f"The capital of {country} is {city}."))
        out.append((f"capital:{country}", f"{city} is the capital of which country?", f"{city} is the capital of {country}."))
    for animal, n in LEGS:
        out.append((f"legs:{animal}", f"How many legs does {_a(animal)} have?",
                    f"{_a(animal).capitalize()} has {n} legs." if n else f"{_a(animal).capitalize()} has no legs."))
    for animal, sound in SOUNDS:
        out.append((f"sound:{animal}", f"What sound does {_a(animal)} make?", f"{_a(animal).capitalize()} {sound}."))
    for animal, baby in BABIES:
        out.append((f"baby:{animal}", f"What is a baby {animal} called?", f"A baby {animal} is called {_a(baby)}."))
    for a, b in OPPOSITES:
        out.append((f"opposite:{a}", f"What is the opposite of '{a}'?", f"The opposite of '{a}' is '{b}'."))
    for a, b in PLURALS:
        out.append((f"plural:{a}", f"What is the plural of '{a}'?", f"The plural of '{a}' is '{b}'."))
    for word, meaning in DEFINITIONS:
        name = word.split(" ", 1)[-1] if word.startswith(("a ", "an ")) else word
        q = r.choice(("What is {}?", "What does '{}' mean?", "Can you define {}?"))
        q = q.format(name if "mean" in q else word)
        out.append((f"define:{name}", q, f"{word[0].upper() + word[1:]} is {meaning}."))
    out += [(f"howto:{q}", q, a) for q, a in HOWTOS]
    out += [(f"fact:{q}", q, a) for q, a in SIMPLE_FACTS]
    for i, day in enumerate(DAYS):
        out.append((f"day:{day}", f"What day comes after {day}?", f"{DAYS[(i + 1) % 7]} comes after {day}."))
    for i, month in enumerate(MONTHS):
        out.append((f"month:{month}", f"What month comes after {month}?", f"{MONTHS[(i + 1) % 12]} comes after {month}."))
    return out


def _procedural_items(n: int) -> list[tuple[str, str, str]]:
    """Convert/list/word tasks with random parameters; the group is the question itself."""
    r = rng("facts-procedural")
    out = []
    for _ in range(n):
        kind = r.randrange(9)
        if kind == 0:
            big, small, f, one = r.choice(UNITS)
            k = r.randint(2, 12)
            q = f"Convert {k} {big} to {small}." if big != "dozen" else f"How many items are in {k} dozen?"
            a = (f"{k} {big} is {k * f} {small}, because 1 {one} is {f} {small}." if big != "dozen"
                 else f"{k} dozen is {k} * 12 = {k * 12} items.")
        elif kind == 1:
            c = r.randrange(-20, 105, 5)
            fahr = c * 9 // 5 + 32
            q, a = f"Convert {c} degrees Celsius to Fahrenheit.", f"{c} * 9 / 5 + 32 = {fahr}, so {c} degrees Celsius is {fahr} degrees Fahrenheit."
        elif kind == 2:
            nums = r.sample(range(1, 100), r.randint(3, 6))
            order = r.choice(("smallest to largest", "largest to smallest"))
            s = sorted(nums, reverse=order.startswith("largest"))
            q, a = f"Sort these numbers from {order}: {', '.join(map(str, nums))}.", ", ".join(map(str, s))
        elif kind == 3:
            nums = r.sample(range(1, 100), r.randint(3, 6))
            which = r.choice(("largest", "smallest"))
            v = max(nums) if which == "largest" else min(nums)
            q, a = f"Which is the {which} number: {', '.join(map(str, nums))}?", f"The {which} number is {v}."
        elif kind == 4:
            k, m = r.randint(3, 8), r.randint(2, 9)
            q, a = f"List the first {k} multiples of {m}.", ", ".join(str(m * i) for i in range(1, k + 1))
        elif kind == 5:
            w = r.choice(WORDS)
            q, a = f"Spell '{w}' backwards.", f"'{w}' backwards is '{w[::-1]}'."
        elif kind == 6:
            w = r.choice(WORDS)
            q, a = f"How many letters are in the word '{w}'?", f"The word '{w}' has {len(w)} letters."
        elif kind == 7:
            ws = r.sample(WORDS, r.randint(3, 5))
            q, a = f"Put these words in alphabetical order: {', '.join(ws)}.", ", ".join(sorted(ws))
        else:
            w = r.choice(WORDS)
            q, a = f"Write the word '{w}' in capital letters.", w.upper()
        out.append((f"proc:{q}", q, a))
    return out


def fact_items() -> list[tuple[str, str, str]]:
    """(group, question, answer), deduplicated by question, in a fixed order."""
    seen, out = set(), []
    for item in _fixed_items() + _procedural_items(700):
        if item[1] not in seen:
            seen.add(item[1])
            out.append(item)
    return out
