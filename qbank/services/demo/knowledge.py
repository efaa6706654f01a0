"""The demo exam's clinical knowledge table: data for ``qbank.services.demo.content``.

One block per topic, one line per condition; ``demo_content`` parses it into typed rows.
"""

KNOWLEDGE = """
## CARD Cardiology
* Acute pericarditis | 20-55 | sharp chest pain that eases on leaning forward | a recent viral
illness; a pericardial friction rub; pain worse on inspiration | The ECG shows diffuse ST elevation
with PR depression. | Electrocardiography | NSAIDs plus colchicine | Pericardial inflammation
* Aortic dissection | 55-80 | sudden tearing chest pain radiating to the back | uncontrolled
hypertension; unequal arm blood pressures; a new diastolic murmur | CT shows an intimal flap in the
ascending aorta. | CT angiography of the chest | Beta-blocker and emergency surgery | An intimal
tear into the aortic media
* Hypertrophic cardiomyopathy | 14-30 | fainting while playing basketball | an uncle who died
suddenly at 30; a systolic murmur louder with Valsalva; an S4 | Echo shows asymmetric septal
hypertrophy. | Transthoracic echocardiography | A beta-blocker; no competitive sports | Sarcomere
mutation with outflow obstruction
* Infective endocarditis | 22-45 | fever and fatigue for two weeks | injection drug use; a new
tricuspid regurgitation murmur; splinter hemorrhages | Blood cultures grow Staphylococcus aureus. |
Three sets of blood cultures | Empiric intravenous vancomycin | Bacterial valve vegetations
* Non-ST-elevation myocardial infarction | 50-80 | 40 minutes of chest pressure at rest | sweating
and nausea; heavy smoking; hypertension | The ECG shows ST depression in V4-V6. | Serial troponin
levels | Aspirin, heparin and early angiography | Plaque rupture with a non-occlusive thrombus
* Stable angina pectoris | 50-75 | chest pressure on climbing stairs | relief within minutes of
rest; type 2 diabetes; a normal examination | Exercise ECG shows 2-mm ST depression. | Exercise
stress testing | Aspirin, a statin and sublingual nitroglycerin | A fixed coronary stenosis
* Familial hypercholesterolemia | 25-45 | painless nodules on the Achilles tendons | a father with a
heart attack at 42; corneal arcus; xanthomas over the knuckles | LDL cholesterol is 310 mg/dL. |
Fasting lipid panel | High-intensity statin therapy | LDL receptor mutation reducing LDL clearance
* Peripheral artery disease | 55-80 | calf pain after walking two blocks | heavy smoking; absent
pedal pulses; shiny hairless shins | The ankle-brachial index is 0.6. | Ankle-brachial index |
Supervised exercise, aspirin and a statin | Atherosclerotic narrowing of leg arteries
## NEPH Nephrology
* Minimal change disease | 3-9 | puffy eyes for one week | a recent cold; generalized pitting edema;
normal blood pressure | Urine protein is 4+ without blood and albumin is 1.9 g/dL. | Urine
protein-to-creatinine ratio | Oral corticosteroids | Podocyte foot process effacement
* Poststreptococcal glomerulonephritis | 5-12 | cola-colored urine | a sore throat three weeks
earlier; periorbital edema; hypertension | Serum C3 is low. | Complement levels and ASO titer | Salt
restriction and a loop diuretic | Subepithelial immune complexes activating complement
* IgA nephropathy | 18-35 | visible blood in the urine | a cold two days earlier; similar past
episodes; no edema | Biopsy shows mesangial IgA deposits. | Kidney biopsy with immunofluorescence |
An ACE inhibitor to reduce proteinuria | Mesangial deposition of IgA1 immune complexes
* Acute interstitial nephritis | 30-70 | fever and a rash | nafcillin started a week earlier; a
diffuse maculopapular rash; mild flank pain | Urinalysis shows white cell casts. | Urinalysis with
microscopy | Stopping the offending drug | A drug hypersensitivity reaction in the interstitium
* Prerenal acute kidney injury | 65-90 | dizziness after three days of diarrhea | dry mucous
membranes; orthostatic hypotension; reduced urine output | The BUN-to-creatinine ratio is 28. |
Fractional excretion of sodium | Intravenous normal saline | Renal hypoperfusion with intact tubules
* Autosomal dominant polycystic kidney disease | 30-50 | intermittent flank pain | a father on
dialysis at 55; bilateral flank masses; hypertension | Ultrasound shows many bilateral cysts. |
Renal ultrasonography | Blood pressure control and tolvaptan | PKD1 or PKD2 mutation causing cyst
growth
* Nephrolithiasis | 25-55 | colicky flank pain radiating to the groin | writhing restlessness;
costovertebral angle tenderness; nausea | CT shows a 4-mm stone at the ureterovesical junction. |
Non-contrast CT | Analgesia, fluids and tamsulosin | Urine supersaturated with calcium oxalate
* Renal fibromuscular dysplasia | F 20-40 | new severe hypertension | an abdominal bruit; no family
history; no response to three drugs | Doppler shows a beaded right renal artery. | Renal artery
duplex ultrasonography | Percutaneous renal angioplasty | Renal artery narrowing activating renin
## PULM Pulmonology
* Pulmonary embolism | 30-70 | sudden breathlessness and pleuritic chest pain | a long flight last
week; a swollen, tender left calf; tachycardia | CT shows a pulmonary artery filling defect. | CT
pulmonary angiography | Anticoagulation with heparin | Embolized deep vein thrombus
* Asthma | 8-25 | episodic wheezing and a night-time cough | symptoms with cold air and exercise;
childhood eczema; an expiratory wheeze | FEV1 rises by 18% after albuterol. | Spirometry with
bronchodilator testing | Inhaled budesonide-formoterol | Eosinophilic airway inflammation
* Sarcoidosis | 25-45 | a dry cough and fatigue for three months | tender red nodules on the shins;
ankle swelling; red, painful eyes | Chest x-ray shows bilateral hilar lymphadenopathy. |
Transbronchial biopsy of a hilar node | Oral corticosteroids | Th1-mediated noncaseating granulomas
* Idiopathic pulmonary fibrosis | M 60-80 | breathlessness worsening over two years | basal 'Velcro'
crackles; digital clubbing; a dry cough | CT shows basal honeycombing. | High-resolution CT of the
chest | Nintedanib or pirfenidone | Aberrant repair with fibroblast proliferation
* Obstructive sleep apnea | 40-65 | daytime sleepiness and morning headaches | loud snoring with
witnessed apneas; a BMI of 38; a thick neck | Sleep testing shows 32 apneas and hypopneas per hour.
| Polysomnography | Continuous positive airway pressure | Upper airway collapse during sleep
* Primary spontaneous pneumothorax | M 18-30 | sudden right chest pain at rest | a tall, thin build;
absent breath sounds on the right; hyperresonance on the right | Chest x-ray shows a visceral
pleural line. | Chest x-ray | Needle aspiration or a small chest tube | Rupture of apical subpleural
blebs
* Cystic fibrosis | 8-17 | recurrent chest infections and a productive cough | greasy, foul-smelling
stools; poor weight gain; nasal polyps | Sweat chloride is 82 mmol/L. | Sweat chloride test | Airway
clearance, enzymes and a CFTR modulator | Defective CFTR chloride channels thickening secretions
* Pulmonary arterial hypertension | F 25-45 | exertional breathlessness and fatigue | a loud
pulmonic second sound; a parasternal heave; exertional near-fainting | Mean pulmonary artery
pressure is 40 mm Hg. | Right heart catheterization | Bosentan | Remodeling of small pulmonary
arteries
## GAST Gastroenterology
* Celiac disease | 20-40 | chronic diarrhea and bloating | an itchy rash on the elbows; iron
deficiency anemia; weight loss | Tissue transglutaminase IgA is high. | Serum tissue
transglutaminase IgA | A lifelong gluten-free diet | T-cell response to gliadin causing villous
atrophy
* Acute cholecystitis | F 35-60 | right upper quadrant pain after a fatty meal | a temperature of
38.4°C; a positive Murphy sign; nausea | Ultrasound shows gallstones and a thick gallbladder wall. |
Right upper quadrant ultrasonography | Antibiotics and cholecystectomy | Gallstone obstruction of
the cystic duct
* Acute pancreatitis | 35-60 | severe epigastric pain radiating to the back | heavy daily alcohol
use; repeated vomiting; epigastric tenderness | Serum lipase is 900 U/L. | Serum lipase |
Intravenous fluids, analgesia and early feeding | Premature trypsin activation and autodigestion
* Helicobacter pylori duodenal ulcer | 30-60 | burning epigastric pain that improves with meals |
night-time pain; no NSAID use; epigastric tenderness | A urea breath test is positive. | Urea breath
test | Bismuth quadruple therapy | Bacterial infection increasing acid secretion
* Crohn disease | 18-35 | crampy right lower quadrant pain and diarrhea | perianal fistulas;
aphthous mouth ulcers; weight loss | Colonoscopy shows skip lesions with a cobblestoned ileum. |
Colonoscopy with ileal biopsy | Infliximab | Transmural granulomatous inflammation
* Achalasia | 30-55 | difficulty swallowing both solids and liquids | regurgitation of undigested
food; weight loss; chest pain after meals | Barium swallow shows a bird-beak narrowing. | Esophageal
manometry | Pneumatic dilation or Heller myotomy | Loss of inhibitory myenteric neurons
* Hereditary hemochromatosis | M 40-60 | fatigue and pain in the knuckles | bronze skin;
hepatomegaly; new-onset diabetes | Transferrin saturation is 78% and ferritin is 1,800 ng/mL. |
Serum iron studies | Serial phlebotomy | HFE mutation increasing iron absorption
* Acute appendicitis | 12-30 | periumbilical pain that moved to the right lower quadrant | anorexia;
a temperature of 38.1°C; tenderness at McBurney point | CT shows a dilated appendix with fat
stranding. | CT of the abdomen with contrast | Appendectomy | Luminal obstruction of the appendix
## ENDO Endocrinology
* Graves disease | F 20-45 | palpitations, heat intolerance and weight loss | proptosis with lid
lag; a diffusely enlarged thyroid; a fine tremor | TSH is suppressed and free T4 is high. | Serum
TSH with free T4 | Methimazole and a beta-blocker | Antibodies stimulating the TSH receptor
* Diabetic ketoacidosis | 12-25 | vomiting and abdominal pain | Kussmaul breathing; fruity breath;
dry mucous membranes | Glucose is 540 mg/dL and bicarbonate is 9 mEq/L. | Serum ketones and
electrolytes | Intravenous fluids and insulin with potassium | Insulin deficiency driving
ketogenesis
* Primary adrenal insufficiency | 25-50 | fatigue, weight loss and salt craving | darkened skin
creases; orthostatic hypotension; nausea | Sodium is 128 and potassium 5.9 mEq/L. | Cosyntropin
stimulation test | Hydrocortisone and fludrocortisone | Autoimmune destruction of the adrenal cortex
* Cushing disease | F 30-50 | weight gain and easy bruising | purple abdominal striae; proximal
muscle weakness; a buffalo hump | Late-night salivary cortisol and ACTH are high. | Late-night
salivary cortisol | Transsphenoidal pituitary surgery | An ACTH-secreting pituitary adenoma
* Pheochromocytoma | 30-55 | spells of headache, sweating and palpitations | a blood pressure of
190/110 mm Hg; pallor during spells; tremor | Plasma metanephrines are markedly high. | Plasma free
metanephrines | Alpha-blockade, then adrenalectomy | A catecholamine-secreting chromaffin cell tumor
* Primary hyperparathyroidism | F 50-70 | a kidney stone and constipation | fatigue and low mood;
frequent urination; bone pain | Calcium is 11.8 mg/dL with a high PTH. | Serum intact parathyroid
hormone | Parathyroidectomy | A parathyroid adenoma secreting PTH
* Primary hyperaldosteronism | 35-55 | hypertension despite three drugs | muscle weakness and
cramps; no edema; frequent urination | Potassium is 2.9 mEq/L. | Plasma aldosterone-to-renin ratio |
Spironolactone or adrenalectomy | Autonomous aldosterone secretion retaining sodium
* Prolactinoma | F 20-35 | no menstrual periods for six months | milky nipple discharge; a negative
pregnancy test; headaches | MRI shows a 6-mm pituitary adenoma. | Serum prolactin | Cabergoline |
Prolactin excess suppressing GnRH release
## NEUR Neurology
* Acute ischemic stroke | 60-85 | right arm weakness and slurred speech for 90 minutes | untreated
atrial fibrillation; a right facial droop; expressive aphasia | Head CT shows no hemorrhage. |
Non-contrast CT of the head | Intravenous alteplase | Embolism to the left middle cerebral artery
* Multiple sclerosis | F 20-40 | blurred vision and pain on moving one eye | an afferent pupillary
defect; past leg numbness that resolved; heat-sensitive symptoms | MRI shows periventricular
lesions. | MRI of the brain and spine | High-dose methylprednisolone | Autoimmune CNS demyelination
* Myasthenia gravis | F 20-40 | double vision and drooping eyelids by evening | ptosis worse on
sustained upward gaze; jaw fatigue; normal pupils | Acetylcholine receptor antibodies are present. |
Acetylcholine receptor antibodies | Pyridostigmine | Antibodies blocking acetylcholine receptors
* Guillain-Barré syndrome | 20-60 | leg weakness ascending over five days | diarrhea three weeks
ago; absent reflexes; tingling feet | CSF protein is 190 mg/dL with 2 cells/μL. | Lumbar puncture |
Intravenous immunoglobulin or plasmapheresis | Autoimmune peripheral nerve demyelination
* Parkinson disease | 60-80 | a resting tremor of the right hand | cogwheel rigidity; a shuffling
gait; reduced facial expression | The handwriting has become small and cramped. | No testing; the
diagnosis is clinical | Carbidopa-levodopa | Loss of dopaminergic neurons in the substantia nigra
* Childhood absence epilepsy | 5-9 | brief staring spells many times a day | eyelid fluttering in
spells; no confusion afterward; spells provoked by hyperventilation | EEG shows 3-Hz spike-and-wave
discharges. | Electroencephalography | Ethosuximide | T-type calcium channel thalamic oscillations
* Amyotrophic lateral sclerosis | M 45-65 | progressive weakness of the right hand | tongue
fasciculations; hyperreflexia; hand muscle atrophy | Electromyography shows widespread denervation.
| Electromyography | Riluzole | Degeneration of upper and lower motor neurons
* Carpal tunnel syndrome | F 35-60 | tingling of the thumb and index finger at night | relief on
shaking the hand; a positive Phalen maneuver; thenar atrophy | Median nerve conduction is slowed. |
Nerve conduction studies | Night-time wrist splinting | Median nerve compression at the wrist
## HEME Hematology
* Iron deficiency anemia | F 25-45 | fatigue and breathlessness on exertion | heavy menstrual
periods; a craving to chew ice; pale conjunctivae | Hemoglobin is 8.9 g/dL with an MCV of 68 fL. |
Serum ferritin | Oral ferrous sulfate | Too little iron for heme synthesis
* Vitamin B12 deficiency | 55-75 | numb feet and an unsteady gait | lost vibration sense; a positive
Romberg sign; a smooth red tongue | The MCV is 112 fL with hypersegmented neutrophils. | Serum B12
and methylmalonic acid | Intramuscular cyanocobalamin | Antibodies to intrinsic factor
* Sickle cell vaso-occlusive crisis | 12-25 | severe pain in the back and legs | similar episodes
since infancy; scleral icterus; onset after a cold swim | The smear shows sickled cells. |
Hemoglobin electrophoresis | Intravenous fluids and opioids | HbS polymers occluding small vessels
* Immune thrombocytopenia | 4-9 | bruises and pinpoint red spots on the legs | a viral illness two
weeks earlier; no splenomegaly; a well appearance | Platelets are 14,000/μL. | Complete blood count
and smear | Observation, with IVIG if bleeding | Antiplatelet antibodies and splenic clearance
* Hemophilia A | M 1-6 | a swollen, painful knee after a minor fall | bleeding after circumcision; a
maternal uncle with a bleeding disorder; easy bruising | The PTT is prolonged with a normal PT. |
Factor VIII activity assay | Recombinant factor VIII | X-linked factor VIII deficiency
* Thrombotic thrombocytopenic purpura | F 25-45 | fever and confusion for two days | petechiae on
the legs; scleral icterus; headache | The smear shows schistocytes and platelets are 18,000/μL. |
ADAMTS13 activity level | Urgent plasma exchange | ADAMTS13 deficiency leaving large VWF multimers
* Chronic myeloid leukemia | 40-65 | fatigue and early satiety | massive splenomegaly; night sweats;
weight loss | White cells are 140,000/μL with basophilia. | BCR-ABL1 testing by PCR | Imatinib | The
t(9;22) BCR-ABL1 fusion tyrosine kinase
* Heparin-induced thrombocytopenia | 50-75 | a swollen leg after hip surgery | heparin started seven
days ago; a warm, swollen calf; no bleeding | Platelets fell from 250,000 to 95,000/μL. |
PF4-heparin antibody assay | Stopping heparin and starting argatroban | Platelet-activating
PF4-heparin antibodies
## INFD Infectious Disease
* Bacterial meningitis | 18-30 | fever, headache and a stiff neck | photophobia; a positive Kernig
sign; a petechial rash | CSF shows Gram-negative diplococci. | Blood cultures and lumbar puncture |
Ceftriaxone, vancomycin and dexamethasone | Meningococcal invasion of the meninges
* Infectious mononucleosis | 15-22 | sore throat, fever and fatigue | posterior cervical
lymphadenopathy; splenomegaly; tonsillar exudates | The smear shows atypical lymphocytes. |
Heterophile antibody test | Rest and no contact sports | EBV infection of B cells via CD21
* Lyme disease | 20-50 | fever, muscle aches and a rash | camping in Connecticut ten days ago; a
9-cm red patch with central clearing; no recalled tick bite | Lyme serology is still negative. | No
testing; the rash is diagnostic | Oral doxycycline | Borrelia burgdorferi spread by Ixodes ticks
* Acute pyelonephritis | F 20-40 | fever, chills and right flank pain | painful urination for three
days; costovertebral angle tenderness; a fever of 39.2°C | Urinalysis shows white cell casts and
nitrites. | Urinalysis with urine culture | Oral ciprofloxacin | Ascending Escherichia coli
infection
* Pulmonary tuberculosis | M 30-60 | two months of cough and night sweats | recent release from
prison; blood-streaked sputum; weight loss | Chest x-ray shows an upper-lobe cavity. | Sputum
acid-fast smear and NAAT | Four-drug RIPE therapy | Mycobacteria persisting in macrophages
* Pneumocystis pneumonia | M 25-45 | a dry cough and worsening breathlessness | untreated HIV
infection; oral thrush; desaturation on exertion | The CD4 count is 90/μL. | Bronchoalveolar lavage
| Trimethoprim-sulfamethoxazole | An opportunistic fungus in CD4 depletion
* Clostridioides difficile infection | 60-85 | watery diarrhea ten times a day | clindamycin two
weeks earlier; cramps; a fever of 38.2°C | White cells are 18,000/μL. | Stool test for C. difficile
toxin | Oral fidaxomicin or vancomycin | Toxin-producing overgrowth after antibiotics
* Secondary syphilis | 20-40 | a rash on the palms and soles | a painless genital ulcer two months
ago; generalized lymphadenopathy; new sexual partners | The RPR is reactive at 1:64. | RPR with a
treponemal test | Intramuscular benzathine penicillin G | Hematogenous spread of Treponema pallidum
## RHEU Rheumatology
* Gout | M 40-65 | sudden pain in the big toe | new hydrochlorothiazide; heavy beer intake; a red,
hot first MTP joint | Joint fluid shows negatively birefringent needles. | Arthrocentesis |
Colchicine or an oral glucocorticoid | Urate crystals triggering neutrophilic inflammation
* Rheumatoid arthritis | F 30-55 | two hours of morning stiffness in both hands | symmetric swelling
of the MCP and PIP joints; sparing of the DIP joints; fatigue | Anti-CCP antibodies are strongly
positive. | Anti-citrullinated peptide antibodies | Methotrexate | Autoimmune synovitis with pannus
* Systemic lupus erythematosus | F 18-40 | joint pains and a facial rash | a malar rash sparing the
nasolabial folds; oral ulcers; pleuritic chest pain | Anti-dsDNA is positive and complement is low.
| Antinuclear antibody testing | Hydroxychloroquine | Immune complexes against nuclear antigens
* Ankylosing spondylitis | M 20-35 | low back stiffness that improves with exercise | pain worse at
night; reduced lumbar flexion; a past painful red eye | Pelvic x-ray shows bilateral sacroiliitis. |
Sacroiliac joint radiography | NSAIDs, then a TNF inhibitor | HLA-B27-associated enthesitis
* Giant cell arteritis | F 60-85 | a new headache over the right temple | jaw pain when chewing;
scalp tenderness; shoulder and hip stiffness | ESR is 95 mm/h. | Temporal artery biopsy | High-dose
glucocorticoids at once | Granulomatous inflammation of large arteries
* Systemic sclerosis | F 35-55 | fingers that turn white then blue in the cold | tight skin on the
fingers; heartburn; pitted fingertip scars | Anti-Scl-70 antibodies are positive. | Anti-Scl-70
antibodies | Nifedipine for Raynaud phenomenon | Fibroblast activation with excess collagen
* Sjögren syndrome | F 40-60 | dry eyes and a dry mouth for a year | parotid enlargement; dental
caries; gritty eyes | Anti-Ro/SSA antibodies are positive. | Anti-Ro/SSA and anti-La/SSB antibodies
| Artificial tears and pilocarpine | Lymphocytic infiltration of exocrine glands
* Osteoarthritis of the knee | 60-80 | knee pain that worsens with activity | brief morning
stiffness; crepitus; Heberden nodes | X-ray shows osteophytes and joint space narrowing. | Knee
radiography | Weight loss and quadriceps exercise | Mechanical degeneration of articular cartilage
## ONCO Oncology
* Small cell lung carcinoma | 55-75 | confusion and a chronic cough | a 50-pack-year smoking
history; weight loss; euvolemia | Sodium is 121 mEq/L and CT shows a central hilar mass. |
Bronchoscopic biopsy | Platinum-etoposide chemoradiation | Ectopic ADH from a neuroendocrine tumor
* Colorectal adenocarcinoma | 55-75 | fatigue and dark blood mixed with stool | a change in bowel
habits; weight loss; a father with colon cancer | Hemoglobin is 9.8 g/dL with microcytosis. |
Colonoscopy with biopsy | Resection with regional lymphadenectomy | The adenoma-carcinoma sequence
* Hodgkin lymphoma | 18-30 | a painless lump in the neck for two months | night sweats; node pain
after drinking alcohol; itching | Chest x-ray shows a mediastinal mass. | Excisional lymph node
biopsy | ABVD chemotherapy | Clonal B cells forming Reed-Sternberg cells
* Testicular seminoma | M 20-35 | a painless lump in the left testis | scrotal heaviness; no
transillumination; a history of cryptorchidism | Ultrasonography shows a hypoechoic testicular mass.
| Scrotal ultrasonography | Radical inguinal orchiectomy | Transformed germ cell neoplasia in situ
* Invasive ductal breast carcinoma | F 45-70 | a hard lump in the left breast | a fixed 2-cm mass;
skin dimpling; a firm axillary node | Mammography shows a spiculated mass. | Mammography with core
needle biopsy | Surgery with sentinel node biopsy | Ductal epithelial cells invading the stroma
* Multiple myeloma | 60-80 | back pain and fatigue | constipation; recurrent pneumonias; lumbar
spine tenderness | Calcium is 12.1 mg/dL and creatinine is 2.0 mg/dL. | Serum protein
electrophoresis | Bortezomib, lenalidomide and dexamethasone | Clonal plasma cell proliferation
* Metastatic prostate adenocarcinoma | M 60-80 | difficult urination and low back pain | a hard,
nodular prostate; weight loss; pelvic bone pain | PSA is 48 ng/mL with sclerotic bone lesions. |
Prostate biopsy | Androgen deprivation therapy | Androgen-driven growth of prostate acinar cells
* Pancreatic adenocarcinoma | 60-80 | painless jaundice and weight loss | a palpable nontender
gallbladder; new-onset diabetes; itching | CA 19-9 is elevated. | Pancreatic-protocol CT |
Pancreaticoduodenectomy | A KRAS-driven tumor obstructing the bile duct
## PHAR Pharmacology
* Digoxin toxicity | 70-90 | nausea and yellow halos around lights | heart failure treated with
digoxin; verapamil started last week; confusion | Potassium is 6.0 mEq/L with frequent ectopic
beats. | Serum digoxin level | Digoxin-specific antibody fragments | Inhibition of the Na+/K+-ATPase
* Lithium toxicity | 30-60 | vomiting, a coarse tremor and confusion | bipolar disorder treated with
lithium; hydrochlorothiazide added last month; ataxia | Creatinine has risen to 1.8 mg/dL. | Serum
lithium level | Intravenous saline or hemodialysis | Thiazide-reduced lithium clearance
* Serotonin syndrome | 25-50 | agitation, sweating and diarrhea | tramadol added to sertraline;
inducible ankle clonus; a fever of 39°C | Creatine kinase is mildly elevated. | Clinical diagnosis
by the Hunter criteria | Stopping serotonergic drugs; cyproheptadine | Excess 5-HT2A receptor
stimulation
* Neuroleptic malignant syndrome | 20-45 | fever and muscle stiffness | haloperidol started five
days earlier; lead-pipe rigidity; labile blood pressure | Creatine kinase is 12,000 U/L. | Serum
creatine kinase | Stopping the antipsychotic; dantrolene | Dopamine D2 receptor blockade
* Warfarin over-anticoagulation | 60-80 | easy bruising and gum bleeding | warfarin for atrial
fibrillation; TMP-SMX started last week; no head injury | The INR is 9.5 without major bleeding. |
Prothrombin time with INR | Hold warfarin; give oral vitamin K | CYP2C9 inhibition by TMP-SMX
* ACE inhibitor-induced angioedema | 45-70 | swelling of the lips and tongue | lisinopril started
three months ago; no hives or itching; no new foods | C1 esterase inhibitor levels are normal. |
Serum C4 level | Stopping lisinopril; airway protection | Bradykinin accumulation
* Benzocaine-induced methemoglobinemia | 20-50 | blue lips after endoscopy | benzocaine throat spray
for the procedure; cyanosis despite oxygen; chocolate-brown blood | Pulse oximetry is 85% while PaO2
is 95 mm Hg. | Co-oximetry | Intravenous methylene blue | Oxidation of heme iron to the ferric state
* Drug-induced torsades de pointes | F 50-75 | a brief fainting episode | methadone maintenance;
azithromycin started two days ago; palpitations before fainting | The QTc is 560 ms. | 12-lead
electrocardiography | Intravenous magnesium sulfate | hERG potassium channel blockade
## EMER Emergency Medicine
* Cardiac tamponade | M 18-40 | a stab wound to the chest | hypotension; jugular venous distension;
muffled heart sounds | Pulsus paradoxus is 20 mm Hg with electrical alternans. | Bedside
echocardiography | Pericardiocentesis | Pericardial fluid restricting diastolic filling
* Acetaminophen overdose | F 16-30 | nausea after an intentional ingestion | an empty pill bottle;
mild vomiting; no other symptoms | The 4-hour level is above the treatment line. | Serum
acetaminophen level at 4 hours | Intravenous N-acetylcysteine | Toxic NAPQI after glutathione
depletion
* Opioid overdose | 20-40 | decreased responsiveness | pinpoint pupils; a respiratory rate of 6/min;
needle marks on the forearms | Fingerstick glucose is 102 mg/dL. | Observing the response to
naloxone | Intravenous or intranasal naloxone | Mu-opioid receptor agonism in the brainstem
* Carbon monoxide poisoning | 25-60 | headache, dizziness and nausea | sick family members; a gas
heater used overnight; normal pulse oximetry | Carboxyhemoglobin is 28%. | Carboxyhemoglobin by
co-oximetry | 100% oxygen or hyperbaric oxygen | Carboxyhemoglobin impairing oxygen delivery
* Exertional heat stroke | M 18-30 | collapse during a summer marathon | confusion; a heart rate of
140/min; hot, flushed skin | Creatine kinase and transaminases are high. | Rectal core temperature |
Cold-water immersion | Failed thermoregulation with organ injury
* Septic shock | 60-85 | fever and confusion | painful urination for three days; a blood pressure of
78/40 mm Hg; warm extremities | Lactate is 5.1 mmol/L. | Serum lactate and blood cultures |
Antibiotics and norepinephrine | Dysregulated host response with vasodilation
* Organophosphate poisoning | M 25-55 | drooling after spraying crops | pinpoint pupils; wheezing
with copious secretions; bradycardia | Red cell cholinesterase activity is very low. | Red cell
cholinesterase activity | Atropine and pralidoxime | Irreversible acetylcholinesterase inhibition
* Anaphylaxis | 15-40 | sudden difficulty breathing after a bee sting | diffuse hives; wheezing with
stridor; a blood pressure of 80/45 mm Hg | Serum tryptase drawn later is elevated. | None; treat
without waiting for tests | Intramuscular epinephrine | IgE-mediated mast cell degranulation
"""
